package io.pgdurable.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The engine's limits: validation of the settings and the checks that enforce them. */
class LimitsTest {
    private final Limits limits = Limits.defaults().withMaxResultDepth(3).withMaxStringLength(5).withMaxResultBytes(2048);

    @Test
    void settings_out_of_range_are_refused_naming_the_option_and_the_value() {
        assertThatThrownBy(() -> Limits.defaults().withMaxResultDepth(1001))
                .hasMessage("--max-result-depth must be between 1 and 1000, got 1001");
        assertThatThrownBy(() -> Limits.defaults().withMaxStepResultRows(0))
                .hasMessage("--max-step-result-rows must be between 1 and 10000000, got 0");
        assertThatThrownBy(() -> Limits.defaults().withMaxResultBytes(Limits.MAX_BYTES + 1))
                .hasMessageContaining("--max-result-bytes must be between 1024 and 268435455");
        assertThatThrownBy(() -> Limits.defaults().withMaxStringLength(-1))
                .hasMessageContaining("--max-result-string-length");
    }

    @Test
    void a_value_deeper_than_the_limit_is_refused_with_its_depth() {
        assertThatCode(() -> limits.checkValue(JsonCodec.tree("[[[1]]]"), "v")).doesNotThrowAnyException();
        assertThatThrownBy(() -> limits.checkValue(JsonCodec.tree("{\"a\": [1, [[{}]]]}"), "the value"))
                .isInstanceOf(JsonLimitException.class)
                .hasMessage("the value nests 5 levels deep; the limit is 3 levels (worker option --max-result-depth)");
    }

    @Test
    void a_string_or_key_longer_than_the_limit_is_refused_with_its_length() {
        assertThatThrownBy(() -> limits.checkValue(JsonCodec.tree("[\"abcdef\"]"), "v"))
                .hasMessage("v holds a string of 6 characters; the limit is 5 characters"
                        + " (worker option --max-result-string-length)");
        assertThatThrownBy(() -> limits.checkValue(JsonCodec.tree("{\"longkey\": 1}"), "v"))
                .hasMessageContaining("holds a string of 7 characters");
    }

    @Test
    void a_stored_document_over_the_byte_limit_is_refused_with_its_size_in_utf8() {
        String json = "\"" + "é".repeat(1100) + "\"";

        assertThatThrownBy(() -> limits.checkDocument(json, "the output"))
                .isInstanceOf(JsonLimitException.class)
                .hasMessage("the output is 2202 bytes as JSON; the limit is 2048 bytes (worker option --max-result-bytes)");
    }

    @Test
    void a_stored_document_may_nest_as_deep_as_the_readers_accept_but_no_deeper() {
        Limits roomy = Limits.defaults();
        String ok = "[".repeat(Limits.READ_MAX_DEPTH) + "]".repeat(Limits.READ_MAX_DEPTH);
        String over = "[" + ok + "]";

        assertThatCode(() -> roomy.checkDocument(ok, "d")).doesNotThrowAnyException();
        assertThatThrownBy(() -> roomy.checkDocument(over, "d"))
                .hasMessageStartingWith("d nests 1501 levels deep; pg_durable stores JSON at most 1500 levels deep");
    }

    @Test
    void depth_of_json_text_ignores_brackets_inside_strings() {
        assertThat(Limits.depth("1")).isZero();
        assertThat(Limits.depth("[[]]")).isEqualTo(2);
        assertThat(Limits.depth("{\"a\": \"[[[\\\"[\", \"b\": [{}]}")).isEqualTo(3);
    }

    @Test
    void utf8_length_counts_multi_byte_characters() {
        assertThat(Limits.utf8Length("aé€😀")).isEqualTo(1 + 2 + 3 + 4);
    }
}
