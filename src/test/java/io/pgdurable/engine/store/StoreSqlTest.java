package io.pgdurable.engine.store;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class StoreSqlTest {
    @Test
    void a_completion_text_ends_with_the_callers_statement_and_the_commit_and_is_built_once() {
        StoreSql.Completion completion = new StoreSql.Completion("SELECT f(?)");

        assertThat(completion.text(null)).isEqualTo("SELECT f(?); COMMIT");
        assertThat(completion.text("SELECT reset()")).isEqualTo("SELECT f(?); SELECT reset(); COMMIT");
        assertThat(completion.text(null)).isSameAs(completion.text(null));
        assertThat(completion.text("SELECT reset()")).isSameAs(completion.text("SELECT reset()"));
    }

    @Test
    void beyond_the_kept_statements_a_text_is_still_right_but_built_each_time() {
        StoreSql.Completion completion = new StoreSql.Completion("SELECT f(?)");
        for (int i = 0; i < 16; i++) {
            completion.text("SELECT " + i);
        }

        assertThat(completion.text("SELECT 99")).isEqualTo("SELECT f(?); SELECT 99; COMMIT")
                .isNotSameAs(completion.text("SELECT 99"));
        assertThat(completion.text("SELECT 3")).isSameAs(completion.text("SELECT 3"));
    }
}
