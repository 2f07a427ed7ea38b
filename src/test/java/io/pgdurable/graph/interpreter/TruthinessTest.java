package io.pgdurable.graph.interpreter;

import static io.pgdurable.graph.sql.SubstitutionTest.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.TextNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TruthinessTest {

    private static boolean firstColumn(String valueJson) {
        return Truthiness.isTruthy(json("{\"rows\":[{\"c\":" + valueJson + ",\"other\":true}],\"row_count\":1}"));
    }

    @Test
    void a_sql_result_without_rows_is_false() {
        assertThat(Truthiness.isTruthy(json("{\"rows\":[],\"row_count\":0}"))).isFalse();
    }

    @Test
    void the_first_column_of_the_first_row_decides() {
        assertThat(firstColumn("true")).isTrue();
        assertThat(firstColumn("false")).isFalse();
        assertThat(firstColumn("null")).isFalse();
        assertThat(Truthiness.isTruthy(json("{\"rows\":[{\"c\":false},{\"c\":true}],\"row_count\":2}"))).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "-1", "0.5", "1e-300", "12345678901234567890", "\"true\"", "\"t\"", "\"YES\"",
            "\" True \"", "\"1\"", "\"2.5\"", "\"-0.1\"", "\"1e3\"", "\"nan\"", "\"inf\"", "\"-Infinity\"", "\"x\"",
            "\"on\"", "\"0x0\"", "\"0d\"", "[0]", "{\"a\":null}"})
    void truthy_values(String valueJson) {
        assertThat(firstColumn(valueJson)).as(valueJson).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "0.0", "-0.0", "0e10", "\"\"", "\"  \"", "\"false\"", "\"F\"", "\"No\"", "\" no \"",
            "\"0\"", "\"0.0\"", "\"-0\"", "\"+0.000\"", "\".0\"", "\"0.\"", "\"0E5\"", "[]", "{}", "null"})
    void falsy_values(String valueJson) {
        assertThat(firstColumn(valueJson)).as(valueJson).isFalse();
    }

    @Test
    void a_result_without_rows_decides_as_a_whole() {
        assertThat(Truthiness.isTruthy(json("{\"slept\": true, \"seconds\": 0}"))).isTrue();
        assertThat(Truthiness.isTruthy(json("{\"signal_name\":\"go\",\"timed_out\":true,\"data\":null}"))).isTrue();
        assertThat(Truthiness.isTruthy(json("[]"))).isFalse();
        assertThat(Truthiness.isTruthy(json("[{\"rows\":[]}]"))).isTrue();
        assertThat(Truthiness.isTruthy(json("\"no\""))).isFalse();
        assertThat(Truthiness.isTruthy(json("\"done\""))).isTrue();
        assertThat(Truthiness.isTruthy(json("0"))).isFalse();
        assertThat(Truthiness.isTruthy(json("null"))).isFalse();
        assertThat(Truthiness.isTruthy(null)).isFalse();
        assertThat(Truthiness.isTruthy(json("{\"rows\":\"not an array\"}"))).isTrue();
    }

    @Test
    void a_first_row_that_is_not_a_non_empty_object_falls_back_to_the_whole_result() {
        assertThat(Truthiness.isTruthy(json("{\"rows\":[{}],\"row_count\":1}"))).isTrue();
        assertThat(Truthiness.isTruthy(json("{\"rows\":[0],\"row_count\":1}"))).isTrue();
    }

    @Test
    void plain_text_follows_the_string_rule() {
        assertThat(Truthiness.isTruthy(TextNode.valueOf("not json at all"))).isTrue();
        assertThat(Truthiness.isTruthyText(" f ")).isFalse();
        assertThat(Truthiness.isTruthyText("00.000")).isFalse();
    }
}
