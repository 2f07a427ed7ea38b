package io.pgdurable.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.testing.Poll;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's server without a browser: signing in with the database's own passwords, what
 * each role sees, the anti-forgery checks, the limits on what is asked, and sessions ending.
 * (DashboardBrowserTest drives the pages in Chromium.)
 */
class DashboardApiTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static DashboardFixture fx;

    @BeforeAll
    static void start() {
        fx = new DashboardFixture("dash_api", true);
    }

    @AfterAll
    static void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    private HttpSession signedIn(String role, String password) {
        HttpSession s = new HttpSession(fx.baseUrl());
        HttpResponse<String> r = s.signIn(role, password);
        assertThat(r.statusCode()).isEqualTo(303);
        assertThat(r.headers().firstValue("Location")).contains("/");
        return s;
    }

    @Test
    void signs_in_with_the_roles_own_password_and_refuses_a_wrong_one() {
        HttpSession wrong = new HttpSession(fx.baseUrl());
        HttpResponse<String> refused = wrong.signIn(fx.alice, fx.alicePassword + "x");
        assertThat(refused.statusCode()).isEqualTo(303);
        assertThat(refused.headers().firstValue("Location")).contains("/login?error=refused");
        assertThat(wrong.cookies).doesNotContainKey(DashboardServer.SESSION_COOKIE);
        assertThat(wrong.get("/api/session").statusCode()).isEqualTo(401);

        HttpSession right = signedIn(fx.alice, fx.alicePassword);
        JsonNode session = right.getJson("/api/session");
        assertThat(session.path("role").asText()).isEqualTo(fx.alice);
        assertThat(session.path("superuser").asBoolean()).isFalse();
        assertThat(session.path("csrf").asText()).hasSize(64);
    }

    @Test
    void refuses_everyone_where_the_server_would_take_any_password() {
        // From 127.0.0.1 the test cluster trusts every login, as it trusts the worker.
        try (DashboardServer trusting = DashboardServer.start(new DashboardServer.Config(
                fx.databaseFrom("127.0.0.1"), "127.0.0.1", 0, Duration.ofMinutes(5), Duration.ofHours(1), 5, false,
                fx.clock))) {
            HttpSession s = new HttpSession("http://127.0.0.1:" + trusting.port());
            HttpResponse<String> r = s.signIn(fx.alice, fx.alicePassword);
            assertThat(r.headers().firstValue("Location")).contains("/login?error=unchecked");
            assertThat(s.cookies).doesNotContainKey(DashboardServer.SESSION_COOKIE);
        }
    }

    @Test
    void signing_in_needs_the_forms_own_token() {
        HttpSession s = new HttpSession(fx.baseUrl());
        HttpResponse<String> r = s.postForm("/login",
                Map.of("role", fx.alice, "password", fx.alicePassword, "csrf", "0".repeat(64)));
        assertThat(r.statusCode()).isEqualTo(403);
        assertThat(r.body()).contains("token");
        assertThat(s.cookies).doesNotContainKey(DashboardServer.SESSION_COOKIE);
    }

    @Test
    void a_role_sees_and_touches_only_its_own_instances() throws Exception {
        String id = fx.startAs(fx.alice, "'SELECT 1' ~> df.wait_for_signal('go_own') ~> 'SELECT 2'", "alice-own");
        HttpSession alice = signedIn(fx.alice, fx.alicePassword);
        HttpSession bob = signedIn(fx.bob, fx.bobPassword);

        assertThat(HttpSession.ids(alice.getJson("/api/instances?limit=200"))).contains(id);
        assertThat(HttpSession.ids(bob.getJson("/api/instances?limit=200"))).doesNotContain(id);
        HttpResponse<String> peek = bob.get("/api/instances/" + id);
        assertThat(peek.statusCode()).isEqualTo(404);
        assertThat(HttpSession.json(peek).path("error").asText()).contains(id).contains(fx.bob);
        assertThat(peek.body()).doesNotContain("alice-own");

        String bobToken = bob.csrf();
        assertThat(bob.postJson("/api/instances/" + id + "/cancel", "{}", bobToken).statusCode()).isEqualTo(404);
        assertThat(bob.postJson("/api/instances/" + id + "/signal", "{\"name\":\"go_own\"}", bobToken).statusCode())
                .isEqualTo(404);
        assertThat(fx.status(id)).isEqualTo("running");
        assertThat(bob.getJson("/api/overview").path("counts").path("running").asLong()).isZero();
        assertThat(bob.getJson("/api/workers").path("visible").asBoolean()).isFalse();

        JsonNode seen = alice.getJson("/api/instances/" + id);
        assertThat(seen.path("waits").findValuesAsText("signalName")).containsExactly("go_own");
        assertThat(alice.postJson("/api/instances/" + id + "/signal", "{\"name\":\"go_own\",\"data\":\"{\\\"n\\\":1}\"}",
                alice.csrf()).statusCode()).isEqualTo(200);
        Poll.until(WAIT, "alice's instance to complete after her signal", () -> "completed".equals(fx.status(id)));
    }

    @Test
    void changes_need_this_sessions_token_and_this_sites_origin() throws Exception {
        String id = fx.startAs(fx.alice, "df.wait_for_signal('never')", "alice-guarded");
        HttpSession alice = signedIn(fx.alice, fx.alicePassword);
        HttpSession other = signedIn(fx.alice, fx.alicePassword);
        String token = alice.csrf();

        HttpResponse<String> none = alice.postJson("/api/instances/" + id + "/cancel", "{}", null);
        assertThat(none.statusCode()).isEqualTo(403);
        assertThat(HttpSession.json(none).path("error").asText()).contains(DashboardServer.CSRF_HEADER);
        assertThat(alice.postJson("/api/instances/" + id + "/cancel", "{}", other.csrf()).statusCode()).isEqualTo(403);
        assertThat(alice.postJson("/api/instances/" + id + "/cancel", "{}", token, "Origin", "http://evil.example")
                .statusCode()).isEqualTo(403);
        assertThat(fx.status(id)).isEqualTo("running");

        HttpResponse<String> ok = alice.postJson("/api/instances/" + id + "/cancel", "{\"reason\":\"enough\"}", token);
        assertThat(ok.statusCode()).isEqualTo(200);
        Poll.until(WAIT, "the instance to be cancelled", () -> "cancelled".equals(fx.status(id)));
    }

    @Test
    void the_list_pages_by_keyset_through_every_instance_once_and_filters() throws Exception {
        List<String> started = new ArrayList<>();
        Instant before = Instant.now().minusSeconds(1);
        for (int k = 0; k < 5; k++) {
            started.add(fx.startAs(fx.bob, "'SELECT " + k + "'", "paged"));
        }
        HttpSession bob = signedIn(fx.bob, fx.bobPassword);
        Poll.until(WAIT, "bob's five instances to complete", () -> started.stream()
                .allMatch(id -> "completed".equals(fx.status(id))));

        List<String> seen = new ArrayList<>();
        String after = null;
        int pages = 0;
        do {
            JsonNode page = bob.getJson("/api/instances?label=paged&limit=2" + (after == null ? "" : "&after=" + after));
            seen.addAll(HttpSession.ids(page));
            after = page.path("next").isNull() ? null : page.path("next").asText();
            pages++;
        } while (after != null && pages < 10);
        assertThat(pages).isEqualTo(3);
        List<String> newestFirst = new ArrayList<>(started);
        java.util.Collections.reverse(newestFirst);
        assertThat(seen).containsExactlyElementsOf(newestFirst);

        assertThat(HttpSession.ids(bob.getJson("/api/instances?label=paged&status=completed&limit=200")))
                .containsExactlyInAnyOrderElementsOf(started);
        assertThat(HttpSession.ids(bob.getJson("/api/instances?label=paged&status=failed"))).isEmpty();
        assertThat(HttpSession.ids(bob.getJson("/api/instances?label=paged&from=" + before)))
                .containsExactlyInAnyOrderElementsOf(started);
        assertThat(HttpSession.ids(bob.getJson("/api/instances?label=paged&to=" + before))).isEmpty();
    }

    @Test
    void bad_input_is_refused_with_the_value_named() throws Exception {
        HttpSession bob = signedIn(fx.bob, fx.bobPassword);
        assertRefused(bob.get("/api/instances?status=sleeping"), 400, "sleeping");
        assertRefused(bob.get("/api/instances?limit=201"), 400, "201");
        assertRefused(bob.get("/api/instances?limit=x1"), 400, "x1");
        assertRefused(bob.get("/api/instances?after=bm90LWEtY3Vyc29y"), 400, "bm90LWEtY3Vyc29y");
        assertRefused(bob.get("/api/instances?from=yesterday"), 400, "yesterday");
        assertRefused(bob.get("/api/instances?label=" + "x".repeat(501)), 400, "501");
        assertRefused(bob.get("/api/instances/ZZ9"), 400, "ZZ9");
        assertRefused(bob.get("/api/overview?minutes=1441"), 400, "1441");

        String id = fx.startAs(fx.bob, "df.wait_for_signal('later')", "bob-inputs");
        String token = bob.csrf();
        assertRefused(bob.postJson("/api/instances/" + id + "/signal", "{\"data\":\"{}\"}", token), 400, "name");
        assertRefused(bob.postJson("/api/instances/" + id + "/signal", "{\"name\":\"later\",\"data\":\"{oops\"}", token),
                400, "{oops");
        assertRefused(bob.postJson("/api/instances/" + id + "/cancel", "{\"reason\":\"" + "r".repeat(1001) + "\"}", token),
                400, "1001");
        assertRefused(bob.postJson("/api/instances/" + id + "/cancel", "not json", token), 400, "JSON");
        assertThat(fx.status(id)).isEqualTo("running");
    }

    @Test
    void sessions_end_after_idling_and_at_sign_out_and_close_their_connection() {
        HttpSession idle = signedIn(fx.bob, fx.bobPassword);
        assertThat(idle.get("/api/session").statusCode()).isEqualTo(200);
        fx.clock.advance(Duration.ofMinutes(31));
        assertThat(idle.get("/api/session").statusCode()).isEqualTo(401);
        HttpResponse<String> page = idle.get("/");
        assertThat(page.statusCode()).isEqualTo(303);
        assertThat(page.headers().firstValue("Location")).contains("/login");

        HttpSession leaving = signedIn(fx.bob, fx.bobPassword);
        long before = dashboardConnections(fx.bob);
        assertThat(before).isPositive();
        String token = leaving.csrf();
        assertThat(leaving.postForm("/logout", Map.of("csrf", "wrong")).statusCode()).isEqualTo(403);
        HttpResponse<String> out = leaving.postForm("/logout", Map.of("csrf", token));
        assertThat(out.statusCode()).isEqualTo(303);
        assertThat(leaving.get("/api/session").statusCode()).isEqualTo(401);
        Poll.until(WAIT, "the signed-out session's connection to close", () -> dashboardConnections(fx.bob) == before - 1);
    }

    @Test
    void signing_in_again_in_the_same_browser_ends_the_session_it_had() {
        HttpSession browser = signedIn(fx.alice, fx.alicePassword);
        String first = browser.cookies.get(DashboardServer.SESSION_COOKIE);
        long before = dashboardConnections(fx.alice);
        assertThat(browser.signIn(fx.alice, fx.alicePassword).statusCode()).isEqualTo(303);
        assertThat(browser.cookies.get(DashboardServer.SESSION_COOKIE)).isNotEqualTo(first);
        HttpSession stale = new HttpSession(fx.baseUrl());
        stale.cookies.put(DashboardServer.SESSION_COOKIE, first);
        assertThat(stale.get("/api/session").statusCode()).isEqualTo(401);
        Poll.until(WAIT, "the replaced session's connection to close", () -> dashboardConnections(fx.alice) == before);
    }

    @Test
    void the_overview_counts_ended_instances_of_its_window_only() throws Exception {
        String id = fx.startAs(fx.bob, "'SELECT 42'", "counted");
        Poll.until(WAIT, "bob's instance to complete", () -> "completed".equals(fx.status(id)));
        HttpSession bob = signedIn(fx.bob, fx.bobPassword);
        long lastHour = bob.getJson("/api/overview?minutes=60").path("counts").path("completed").asLong();
        assertThat(lastHour).isPositive();
        assertThat(bob.getJson("/api/overview?minutes=60").path("countsNote").asText()).contains("last 60 minutes");

        fx.env.exec("UPDATE df.instances SET terminal_at = now() - interval '2 hours' WHERE id = '" + id + "'");
        assertThat(bob.getJson("/api/overview?minutes=60").path("counts").path("completed").asLong())
                .isEqualTo(lastHour - 1);
        assertThat(bob.getJson("/api/overview?minutes=180").path("counts").path("completed").asLong())
                .isGreaterThanOrEqualTo(lastHour);
    }

    @Test
    void every_answer_forbids_inline_script_and_framing() {
        HttpSession s = signedIn(fx.bob, fx.bobPassword);
        for (String path : List.of("/", "/login", "/assets/app.css", "/api/session", "/instances/00000000")) {
            HttpResponse<String> r = s.get(path);
            assertThat(r.headers().firstValue("Content-Security-Policy")).as(path)
                    .hasValueSatisfying(csp -> assertThat(csp).contains("script-src 'self'")
                            .contains("frame-ancestors 'none'").doesNotContain("unsafe-inline"));
            assertThat(r.headers().firstValue("X-Content-Type-Options")).as(path).contains("nosniff");
        }
    }

    @Test
    void the_instance_answer_has_its_graph_nodes_waits_and_history() throws Exception {
        String id = fx.startAs(fx.alice,
                "('SELECT 1 AS a' & 'SELECT 2 AS b') ~> df.wait_for_signal('ship') ~> ('SELECT true' ?> 'SELECT 1' !> 'SELECT 2')",
                "shapes");
        HttpSession alice = signedIn(fx.alice, fx.alicePassword);
        JsonNode waiting = Poll.until(WAIT, "the instance to wait for its signal",
                () -> alice.getJson("/api/instances/" + id), j -> j.path("waits").size() == 1);
        List<String> kinds = waiting.path("graph").path("vertices").findValuesAsText("kind");
        assertThat(kinds).contains("START", "JOIN", "JOIN_END", "SIGNAL", "IF", "END");
        assertThat(vertexStatus(waiting, "SIGNAL")).isEqualTo("running");
        assertThat(waiting.path("history").findValuesAsText("type")).contains("ExecutionStarted");

        alice.postJson("/api/instances/" + id + "/signal", "{\"name\":\"ship\"}", alice.csrf());
        JsonNode done = Poll.until(WAIT, "the instance to complete", () -> alice.getJson("/api/instances/" + id),
                j -> j.path("instance").path("status").asText().equals("completed"));
        assertThat(vertexStatus(done, "SIGNAL")).isEqualTo("completed");
        assertThat(vertexStatus(done, "END")).isEqualTo("completed");
        assertThat(done.path("waits")).isEmpty();
        assertThat(done.path("history").findValuesAsText("type")).contains("ExecutionCompleted");
    }

    @Test
    void a_loop_shows_the_iteration_it_is_in() throws Exception {
        String id = fx.startAs(fx.alice, "@> (df.wait_for_signal('tick') ~> 'SELECT 1 AS n')", "looping");
        HttpSession alice = signedIn(fx.alice, fx.alicePassword);
        for (int iteration = 1; iteration <= 3; iteration++) {
            String expected = "loop (iteration " + iteration + ")";
            JsonNode waiting = Poll.until(WAIT, "the loop to wait in " + expected, () -> alice.getJson("/api/instances/" + id),
                    j -> j.path("waits").size() == 1 && loopLabel(j).equals(expected));
            JsonNode signalNode = waiting.path("nodes").findParents("type").stream()
                    .filter(n -> n.path("type").asText().equals("SIGNAL")).findFirst().orElseThrow();
            assertThat(signalNode.path("iteration").asInt()).isEqualTo(iteration);
            if (iteration < 3) {
                assertThat(alice.postJson("/api/instances/" + id + "/signal", "{\"name\":\"tick\"}", alice.csrf())
                        .statusCode()).isEqualTo(200);
            }
        }
        alice.postJson("/api/instances/" + id + "/cancel", "{}", alice.csrf());
        Poll.until(WAIT, "the loop to be cancelled", () -> "cancelled".equals(fx.status(id)));
    }

    private static String loopLabel(JsonNode instance) {
        for (JsonNode v : instance.path("graph").path("vertices")) {
            if (v.path("kind").asText().equals("LOOP")) {
                return v.path("label").asText();
            }
        }
        return "";
    }

    private static String vertexStatus(JsonNode instance, String kind) {
        for (JsonNode v : instance.path("graph").path("vertices")) {
            if (v.path("kind").asText().equals(kind)) {
                return v.path("status").asText();
            }
        }
        throw new AssertionError("no " + kind + " vertex in " + instance.path("graph"));
    }

    private static long dashboardConnections(String role) {
        return Long.parseLong(fx.env.queryAsAdmin("SELECT count(*) FROM pg_stat_activity"
                + " WHERE usename = ? AND application_name = 'pg-durable dashboard'", role));
    }

    private static void assertRefused(HttpResponse<String> r, int status, String named) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(HttpSession.json(r).path("error").asText()).contains(named);
    }
}
