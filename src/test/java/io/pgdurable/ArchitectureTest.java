package io.pgdurable;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.equivalentTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The packages depend on each other one way only (see ARCHITECTURE.md):
 *
 * <pre>
 * hosts (cli, pljava, bench, dashboard)
 *   -> graph, reconcile
 *   -> worker
 *   -> engine.store
 *   -> engine.replay
 *   -> engine (the Java API)
 * db: connections and database errors, for every layer below the hosts that talks to the database
 * schema: the installer, for the hosts only
 * </pre>
 *
 * A layer may use the layers below it, never one above. Within graph: the runtime (graph) ->
 * graph.interpreter -> graph.http -> graph.step -> graph.sql -> graph.model, and graph.interpreter ->
 * graph.cron -> graph.model. Only the main classes are checked; tests may reach anywhere.
 */
@AnalyzeClasses(packages = "io.pgdurable", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    private static final String HOSTS = "hosts";
    private static final String SCHEMA = "schema";
    private static final String GRAPH = "graph";
    private static final String RECONCILE = "reconcile";
    private static final String WORKER = "worker";
    private static final String STORE = "engine.store";
    private static final String REPLAY = "engine.replay";
    private static final String API = "engine";
    private static final String DB = "db";

    @ArchTest
    static final ArchRule packages_depend_on_the_layers_below_them_only = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .layer(HOSTS).definedBy("io.pgdurable.cli..", "io.pgdurable.pljava..", "io.pgdurable.bench..",
                    "io.pgdurable.dashboard..")
            .layer(SCHEMA).definedBy("io.pgdurable.schema..")
            .layer(GRAPH).definedBy("io.pgdurable.graph..")
            .layer(RECONCILE).definedBy("io.pgdurable.reconcile..")
            .layer(WORKER).definedBy("io.pgdurable.worker..")
            .layer(STORE).definedBy("io.pgdurable.engine.store..")
            .layer(REPLAY).definedBy("io.pgdurable.engine.replay..")
            .layer(API).definedBy("io.pgdurable.engine")
            .layer(DB).definedBy("io.pgdurable.db..")
            .whereLayer(HOSTS).mayNotBeAccessedByAnyLayer()
            .whereLayer(SCHEMA).mayOnlyBeAccessedByLayers(HOSTS)
            .whereLayer(GRAPH).mayOnlyBeAccessedByLayers(HOSTS)
            .whereLayer(RECONCILE).mayOnlyBeAccessedByLayers(HOSTS)
            // reconcile works through SQL functions: it needs no worker and no store
            .whereLayer(WORKER).mayOnlyBeAccessedByLayers(HOSTS, GRAPH)
            .whereLayer(STORE).mayOnlyBeAccessedByLayers(HOSTS, GRAPH, WORKER)
            .whereLayer(REPLAY).mayOnlyBeAccessedByLayers(HOSTS, GRAPH, WORKER, STORE)
            .whereLayer(API).mayOnlyBeAccessedByLayers(HOSTS, GRAPH, RECONCILE, WORKER, STORE, REPLAY)
            .whereLayer(DB).mayOnlyBeAccessedByLayers(HOSTS, SCHEMA, GRAPH, RECONCILE, WORKER, STORE);

    @ArchTest
    static final ArchRule the_graph_packages_depend_on_the_ones_below_them_only = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .layer("runtime").definedBy("io.pgdurable.graph")
            .layer("interpreter").definedBy("io.pgdurable.graph.interpreter..")
            .layer("http").definedBy("io.pgdurable.graph.http..")
            .layer("step").definedBy("io.pgdurable.graph.step..")
            .layer("sql").definedBy("io.pgdurable.graph.sql..")
            .layer("cron").definedBy("io.pgdurable.graph.cron..")
            .layer("model").definedBy("io.pgdurable.graph.model..")
            .whereLayer("runtime").mayNotBeAccessedByAnyLayer()
            .whereLayer("interpreter").mayOnlyBeAccessedByLayers("runtime")
            .whereLayer("http").mayOnlyBeAccessedByLayers("runtime", "interpreter")
            .whereLayer("step").mayOnlyBeAccessedByLayers("runtime", "interpreter", "http")
            .whereLayer("sql").mayOnlyBeAccessedByLayers("runtime", "interpreter", "step", "http")
            .whereLayer("cron").mayOnlyBeAccessedByLayers("runtime", "interpreter")
            .whereLayer("model").mayOnlyBeAccessedByLayers("runtime", "interpreter", "http", "step", "sql", "cron");

    @ArchTest
    static final ArchRule no_two_packages_depend_on_each_other = slices()
            .matching("io.pgdurable.(**)")
            .should().beFreeOfCycles();

    @ArchTest
    static final ArchRule the_replay_core_runs_no_jdbc = noClasses()
            .that().resideInAPackage("io.pgdurable.engine.replay..")
            .should().dependOnClassesThat()
            .resideInAnyPackage("java.sql..", "javax.sql..", "org.postgresql..", "com.zaxxer..");

    /**
     * The API names a {@link Connection} where user code gets one (an activity's connection, a
     * turn write of its own) and {@link SQLException}, and nothing else of JDBC: it runs no
     * statement itself.
     */
    @ArchTest
    static final ArchRule the_engine_api_runs_no_jdbc = noClasses()
            .that().resideInAPackage("io.pgdurable.engine")
            .should().dependOnClassesThat(
                    resideInAnyPackage("java.sql..", "javax.sql..", "org.postgresql..", "com.zaxxer..")
                            .and(not(equivalentTo(Connection.class).or(equivalentTo(SQLException.class)))))
            .as("the engine API names no JDBC type but Connection and SQLException");

    /**
     * HTTP goes out through {@code graph.http} only, where every connection is checked against the
     * address policy first: no other package may use HttpClient.
     */
    @ArchTest
    static final ArchRule only_the_http_steps_use_the_http_client = noClasses()
            .that().resideOutsideOfPackage("io.pgdurable.graph.http..")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.hc..")
            .as("only graph.http uses Apache HttpClient (its connections are checked by the address policy)");
}
