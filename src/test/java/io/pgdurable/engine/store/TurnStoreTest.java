package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Locking instances for a turn, as the dispatcher does when it fails one outside a claimed turn. */
class TurnStoreTest {
    private static final TestCluster CLUSTER = TestCluster.get();
    private static String db;

    @BeforeAll
    static void database() {
        db = CLUSTER.createDatabase("turn_store");
    }

    @Test
    void locking_an_instance_while_waiting_returns_its_row_with_the_partition_key() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            try (PreparedStatement s = c.prepareStatement("SELECT df_engine.start_orchestration(?, ?, ?)")) {
                s.setString(1, "wait-1");
                s.setString(2, "waiting.lock");
                s.setString(3, "\"in\"");
                s.execute();
            }
            c.commit();

            List<InstanceRow> rows = new TurnStore().lockInstanceWaiting(c, "wait-1");
            c.rollback();

            assertThat(rows).singleElement().satisfies(row -> {
                assertThat(row.id()).isEqualTo("wait-1");
                assertThat(row.name()).isEqualTo("waiting.lock");
                assertThat(row.status()).isEqualTo("Pending");
                assertThat(row.partitionKey()).isNotNull();
            });
        }
    }

    @Test
    void locking_an_instance_that_is_gone_returns_nothing() throws SQLException {
        try (Connection c = CLUSTER.connect(db)) {
            c.setAutoCommit(false);
            assertThat(new TurnStore().lockInstanceWaiting(c, "no-such-instance")).isEmpty();
            c.rollback();
        }
    }
}
