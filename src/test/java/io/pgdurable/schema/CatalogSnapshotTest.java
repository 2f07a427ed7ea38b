package io.pgdurable.schema;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class CatalogSnapshotTest {

    private final TestCluster cluster = TestCluster.get();

    @Test
    void snapshot_covers_every_kind_of_object_and_is_the_same_when_taken_twice() throws Exception {
        String db = cluster.createDatabase("catalog_snapshot_1");
        try (Connection c = cluster.connect(db)) {
            CatalogSnapshot first = CatalogSnapshot.of(c);
            CatalogSnapshot second = CatalogSnapshot.of(c);

            assertThat(second).isEqualTo(first);
            for (String kind : new String[] {"schema", "relation", "columns", "constraint", "index", "sequence",
                    "view", "function", "trigger", "policy", "type", "operator"}) {
                assertThat(first.lines(kind)).as(kind).isNotEmpty();
            }
        }
    }

    @Test
    void snapshot_sees_a_changed_function_a_grant_and_a_comment() throws Exception {
        String db = cluster.createDatabase("catalog_snapshot_2");
        try (Connection c = cluster.connect(db)) {
            CatalogSnapshot before = CatalogSnapshot.of(c);
            try (Statement st = c.createStatement()) {
                st.execute("COMMENT ON TABLE df.instances IS 'changed'");
                st.execute("GRANT EXECUTE ON FUNCTION df_engine.wake() TO PUBLIC");
                st.execute("CREATE OR REPLACE FUNCTION df_engine.wake() RETURNS void LANGUAGE sql AS 'SELECT'");
            }
            CatalogSnapshot after = CatalogSnapshot.of(c);

            String diff = before.diff(after);
            assertThat(diff).contains("- relation df.instances:").contains("+ relation df.instances:")
                    .contains("+ function df_engine.wake():");
            assertThat(after.lines("function").stream().filter(l -> l.startsWith("function df_engine.wake()")))
                    .singleElement().asString().contains("=X/").contains("SELECT");
        }
    }
}
