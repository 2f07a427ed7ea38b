package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ActivityWriteTest {

    @Test
    void the_statement_goes_ahead_of_the_completion_and_its_parameters_keep_nulls_in_order() {
        List<Object> parameters = new ArrayList<>(Arrays.asList("a", null, 3));
        ActivityWrite write = new ActivityWrite("INSERT INTO t VALUES (?, ?, ?)", parameters);
        parameters.clear(); // the write keeps its own copy

        assertThat(write.parameters()).containsExactly("a", null, 3);
        assertThat(write.ahead("SELECT 1; COMMIT")).isEqualTo("INSERT INTO t VALUES (?, ?, ?)\n;\nSELECT 1; COMMIT");
        // A line comment at the end stops at the line break, before the semicolon.
        assertThat(new ActivityWrite("DELETE FROM t -- all", null).ahead("COMMIT")).isEqualTo("DELETE FROM t -- all\n;\nCOMMIT");
        assertThat(StoreSql.Completion.next(write)).isEqualTo(7);
        assertThat(StoreSql.Completion.next(null)).isEqualTo(4);
        assertThat(new ActivityWrite("DELETE FROM t", null).parameters()).isEmpty();
    }

    @Test
    void an_empty_statement_is_refused_before_anything_is_sent() {
        assertThatThrownBy(() -> new ActivityWrite("  ", List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("the activity's statement must not be empty");
        assertThatThrownBy(() -> new ActivityWrite(null, List.of())).isInstanceOf(NullPointerException.class)
                .hasMessage("sql");
    }
}
