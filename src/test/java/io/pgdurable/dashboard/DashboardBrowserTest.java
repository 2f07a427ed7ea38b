package io.pgdurable.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import io.pgdurable.testing.Poll;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver, which
 * .ci/run installs) driven by Selenium. Skipped, with the reason, where they are not installed.
 *
 * <p>Screenshots go to target/dashboard-screenshots, or to the folder the system property
 * {@code pgdurable.dashboard.screenshots} names: {@code mvn -B test -Dtest=DashboardBrowserTest
 * -Dpgdurable.dashboard.screenshots=$PWD/docs/images} refreshes the ones README shows.
 */
class DashboardBrowserTest {

    private static final Path CHROMIUM = Paths.get("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Paths.get("/usr/bin/chromedriver");
    private static final Duration WAIT = Duration.ofSeconds(30);
    /** A label and a result that would run script if the page ever treated them as markup. */
    private static final String HOSTILE = "<script>window.__pwned=1</script>\"'&<img src=x onerror=\"window.__pwned=2\">";

    private static DashboardFixture fx;
    private static Path profile;
    private WebDriver browser;

    @BeforeAll
    static void startDashboard() throws IOException {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "Chromium and ChromeDriver are not installed (Debian packages chromium and chromium-driver;"
                        + " .ci/run installs them): the dashboard's browser tests are skipped");
        fx = new DashboardFixture("dash_browser", false);
        // Selenium is given the driver and the browser, so it looks nothing up and downloads nothing.
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
        profile = Files.createTempDirectory("dashboard-chromium");
    }

    @AfterAll
    static void stopDashboard() {
        if (fx != null) {
            fx.close();
        }
    }

    @BeforeEach
    void openBrowser() throws IOException {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--window-size=1400,1200", "--no-proxy-server",
                // Pages name 127.0.0.1 only: any other name resolves to nothing, so nothing is dialled.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--user-data-dir=" + Files.createTempDirectory(profile, "run"));
        // A driver service per browser: quitting the browser stops its service.
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    private WebDriverWait waiting() {
        return new WebDriverWait(browser, WAIT);
    }

    private void signIn(String role, String password) {
        browser.get(fx.baseUrl() + "/login");
        browser.findElement(By.id("role")).sendKeys(role);
        browser.findElement(By.id("password")).sendKeys(password);
        browser.findElement(By.id("sign-in")).click();
    }

    private void signInAndWait(String role, String password) {
        signIn(role, password);
        waiting().until(ExpectedConditions.textToBe(By.id("whoami"), role));
    }

    private WebElement vertex(String kind) {
        return browser.findElement(By.cssSelector("#graph g.vertex[data-kind='" + kind + "']"));
    }

    private void awaitVertex(String kind, String status) {
        waiting().until(d -> status.equals(d.findElement(
                By.cssSelector("#graph g.vertex[data-kind='" + kind + "']")).getAttribute("data-status")));
    }

    private Object pwned() {
        return ((JavascriptExecutor) browser).executeScript("return window.__pwned === undefined ? null : window.__pwned;");
    }

    @Test
    void a_wrong_password_is_refused() {
        signIn(fx.alice, fx.alicePassword + "-wrong");
        waiting().until(ExpectedConditions.urlContains("/login?error=refused"));
        assertThat(browser.findElement(By.id("login-error")).getText()).contains("refused");
        browser.get(fx.baseUrl() + "/");
        assertThat(browser.getCurrentUrl()).contains("/login");
    }

    @Test
    void alice_sees_her_workflow_appear_follows_its_graph_and_signals_it_to_the_end() throws Exception {
        signInAndWait(fx.alice, fx.alicePassword);
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("last-updated")));
        // Quoted twice: once in the step's SQL, once in the literal that holds the step.
        String quote = HOSTILE.replace("'", "''''");
        String id = fx.startAs(fx.alice, "(('SELECT 1 AS a' & 'SELECT ''" + quote + "'' AS b') ~> df.wait_for_signal('approve')"
                + " ~> ('SELECT 5 > 3' ?> 'SELECT ''big'' AS size' !> 'SELECT ''small'' AS size'))", HOSTILE);

        // The new instance shows up without a reload, its hostile label as plain text.
        By row = By.cssSelector("tr.instance-row[data-instance-id='" + id + "']");
        waiting().until(ExpectedConditions.presenceOfElementLocated(row));
        assertThat(browser.findElement(row).findElement(By.cssSelector("td.col-label")).getText()).isEqualTo(HOSTILE);
        assertThat(pwned()).isNull();
        screenshot("dashboard-instances.png");

        browser.findElement(row).findElement(By.cssSelector("td.col-id a")).click();
        waiting().until(ExpectedConditions.urlContains("/instances/" + id));
        awaitVertex("SIGNAL", "running");
        awaitVertex("JOIN_END", "completed");
        assertThat(vertex("IF").getAttribute("data-status")).isEqualTo("pending");
        assertThat(browser.findElements(By.cssSelector("#graph g.vertex[data-kind='SQL']"))).hasSize(5);

        // A step's details on click; its hostile result is text, not markup.
        WebElement hostileStep = browser.findElements(By.cssSelector("#graph g.vertex[data-kind='SQL']")).stream()
                .filter(v -> "completed".equals(v.getAttribute("data-status")))
                .filter(v -> v.findElement(By.tagName("title")).getAttribute("textContent").contains("AS b"))
                .findFirst().orElseThrow();
        click(hostileStep);
        // The result is the step's rows as JSON, so its quotes are escaped; the markup is there as text.
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("detail-result"),
                "<script>window.__pwned=1</script>"));
        assertThat(browser.findElement(By.id("detail-result")).getText()).contains("<img src=x onerror=");
        assertThat(browser.findElements(By.cssSelector("#node-detail img, #node-detail script"))).isEmpty();
        assertThat(browser.findElement(By.id("detail-sql")).getText()).contains("AS b");
        assertThat(pwned()).isNull();
        screenshot("dashboard-instance.png");

        WebElement form = browser.findElement(By.cssSelector("form.signal-form[data-signal-name='approve']"));
        form.findElement(By.cssSelector("button.send-signal")).click();
        waiting().until(ExpectedConditions.textToBe(By.id("instance-status"), "completed"));
        awaitVertex("END", "completed");
        awaitVertex("SIGNAL", "completed");
        assertThat(fx.status(id)).isEqualTo("completed");
        assertThat(browser.findElement(By.id("timeline")).getText()).contains("ExecutionCompleted");
        assertThat(pwned()).isNull();
    }

    @Test
    void alice_cancels_an_instance_from_its_page() throws Exception {
        String id = fx.startAs(fx.alice, "df.wait_for_signal('never_sent')", "to-cancel");
        signInAndWait(fx.alice, fx.alicePassword);
        browser.get(fx.baseUrl() + "/instances/" + id);
        awaitVertex("SIGNAL", "running");
        browser.findElement(By.id("cancel-reason")).sendKeys("not needed");
        browser.findElement(By.id("cancel-instance")).click();
        waiting().until(ExpectedConditions.textToBe(By.id("instance-status"), "cancelled"));
        assertThat(fx.status(id)).isEqualTo("cancelled");
    }

    @Test
    void bob_sees_none_of_alices_instances_and_is_refused_her_instance_page() throws Exception {
        String id = fx.startAs(fx.alice, "df.wait_for_signal('for_alice_only')", "alice-private");
        signInAndWait(fx.bob, fx.bobPassword);
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#last-updated")));
        waiting().until(d -> !d.findElement(By.id("last-updated")).getText().isEmpty());
        assertThat(browser.findElements(By.cssSelector("tr.instance-row[data-instance-id='" + id + "']"))).isEmpty();
        assertThat(browser.findElement(By.id("instances")).getText()).doesNotContain("alice-private");

        browser.get(fx.baseUrl() + "/instances/" + id);
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("page-error"), id));
        assertThat(browser.findElement(By.id("page-error")).getText()).contains(fx.bob);
        assertThat(browser.findElements(By.cssSelector("#graph g.vertex"))).isEmpty();
        assertThat(fx.status(id)).isEqualTo("running");
    }

    @Test
    void a_forged_post_without_the_token_is_refused() throws Exception {
        String id = fx.startAs(fx.alice, "df.wait_for_signal('stay')", "forgery-target");
        signInAndWait(fx.alice, fx.alicePassword);
        // From the page itself, without the token.
        Object status = ((JavascriptExecutor) browser).executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                        + "fetch('/api/instances/" + id + "/cancel', {method: 'POST', credentials: 'same-origin',"
                        + " headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => done(r.status));");
        assertThat(((Number) status).intValue()).isEqualTo(403);

        // From another page on this machine (another port: the same site, so the cookie goes along).
        HttpServer attacker = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        String html = "<form id=f method=post action='" + fx.baseUrl() + "/api/instances/" + id + "/cancel'>"
                + "<input name=reason value=forged></form><script>document.getElementById('f').submit()</script>";
        attacker.createContext("/", exchange -> {
            byte[] body = html.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "text/html");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        attacker.start();
        try {
            browser.get("http://127.0.0.1:" + attacker.getAddress().getPort() + "/");
            waiting().until(ExpectedConditions.urlContains("/api/instances/" + id + "/cancel"));
            assertThat(browser.getPageSource()).contains("refused");
        } finally {
            attacker.stop(0);
        }
        assertThat(fx.status(id)).isEqualTo("running");
    }

    @Test
    void an_administrator_sees_the_overview_charts_and_the_workers() throws Exception {
        String admin = fx.env.database() + "_admin";
        String password = "admin-" + Sessions.randomToken().substring(0, 12);
        fx.env.cluster().createLoginRole(admin, password);
        fx.env.exec("ALTER ROLE " + admin + " SUPERUSER");
        String failing = fx.startAs(fx.alice, "'SELECT 1' ~> 'SELECT 1/0'", "fails");
        Poll.until(WAIT, "the failing instance to fail", () -> "failed".equals(fx.status(failing)));
        for (int k = 0; k < 5; k++) {
            fx.startAs(fx.bob, "'SELECT " + k + "' ~> 'SELECT 2'", "overview-load");
        }

        signInAndWait(admin, password);
        browser.get(fx.baseUrl() + "/overview");
        waiting().until(d -> {
            // The count shows "—" until the page has loaded the counts: not yet a number.
            String failed = d.findElement(By.cssSelector("#counts .count[data-status='failed'] .count-value")).getText();
            return failed.matches("[0-9]+") && Long.parseLong(failed) >= 1;
        });
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#chart-steps canvas")));
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("recent-failures"), failing));
        assertThat(browser.findElement(By.id("queue-note")).isDisplayed()).isFalse();
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#reconcile-runs tbody tr")));
        screenshot("dashboard-overview.png");

        browser.get(fx.baseUrl() + "/workers");
        waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("tr.worker-row")));
        screenshot("dashboard-workers.png");

        // The same pages for a role without those privileges say so instead.
        closeBrowser();
        openBrowser();
        signInAndWait(fx.bob, fx.bobPassword);
        browser.get(fx.baseUrl() + "/workers");
        waiting().until(ExpectedConditions.textToBePresentInElementLocated(By.id("workers-note"), "administrators"));
        assertThat(browser.findElements(By.cssSelector("tr.worker-row"))).isEmpty();
    }

    private void click(WebElement svgElement) {
        // SVG groups have no size of their own for WebDriver's click; dispatch it on the element.
        ((JavascriptExecutor) browser).executeScript(
                "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));", svgElement);
    }

    private void screenshot(String name) throws IOException {
        Path dir = Paths.get(System.getProperty("pgdurable.dashboard.screenshots",
                System.getProperty("pgdurable.test.buildDir", "target") + File.separator + "dashboard-screenshots"));
        Files.createDirectories(dir);
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }
}
