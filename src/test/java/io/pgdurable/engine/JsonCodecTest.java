package io.pgdurable.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import org.junit.jupiter.api.Test;

/** The project's one JSON mapper: exact numbers, and read/write constraints set from {@link Limits}. */
class JsonCodecTest {

    @Test
    void a_decimal_with_more_digits_than_a_double_round_trips_exactly() {
        JsonNode n = JsonCodec.tree("{\"x\": 12345678901234567890.123456789012345}");

        assertThat(n.get("x").decimalValue()).isEqualTo(new BigDecimal("12345678901234567890.123456789012345"));
        assertThat(JsonCodec.toJson(n)).isEqualTo("{\"x\":12345678901234567890.123456789012345}");
    }

    @Test
    void numbers_beyond_a_doubles_range_stay_finite_and_non_zero() {
        JsonNode n = JsonCodec.tree("[1e400, 1e-400]");

        assertThat(n.get(0).decimalValue()).isEqualByComparingTo(new BigDecimal("1e400"));
        assertThat(n.get(1).decimalValue()).isEqualByComparingTo(new BigDecimal("1e-400"));
        assertThat(JsonCodec.toJson(n)).isEqualTo("[1E+400,1E-400]");
    }

    @Test
    void trailing_zeros_and_very_long_integers_are_kept() {
        JsonNode n = JsonCodec.tree("[2.50, 123456789012345678901234567890123456789012345678901234567890]");

        assertThat(JsonCodec.toJson(n)).isEqualTo("[2.50,123456789012345678901234567890123456789012345678901234567890]");
        assertThat(n.get(1).bigIntegerValue())
                .isEqualTo(new BigInteger("123456789012345678901234567890123456789012345678901234567890"));
    }

    @Test
    void negative_zero_reads_as_zero() {
        JsonNode n = JsonCodec.tree("[-0, -0.0]");

        assertThat(n.get(0).decimalValue().signum()).isZero();
        assertThat(n.get(1).decimalValue().signum()).isZero();
        assertThat(JsonCodec.toJson(n)).isEqualTo("[0,0.0]");
    }

    @Test
    void json_as_deep_as_the_engine_stores_can_be_read_and_written() {
        String deep = "[".repeat(Limits.READ_MAX_DEPTH) + "]".repeat(Limits.READ_MAX_DEPTH);

        assertThat(JsonCodec.toJson(JsonCodec.tree(deep))).isEqualTo(deep);
    }

    @Test
    void json_deeper_than_every_reader_accepts_is_refused_naming_the_limit() {
        String deeper = "[".repeat(Limits.READ_MAX_DEPTH + 1) + "]".repeat(Limits.READ_MAX_DEPTH + 1);

        assertThatThrownBy(() -> JsonCodec.tree(deeper))
                .isInstanceOf(JsonLimitException.class)
                .hasMessageContaining("at most " + Limits.READ_MAX_DEPTH + " levels deep");
    }

    @Test
    void strings_longer_than_jacksons_default_of_twenty_million_characters_are_read() {
        String big = "\"" + "s".repeat(20_000_001) + "\"";

        assertThat(JsonCodec.tree(big).textValue()).hasSize(20_000_001);
    }

    @Test
    void numbers_as_long_as_postgresql_numeric_can_write_are_read() {
        String longest = "9".repeat(131_072) + "." + "9".repeat(16_383);

        assertThat(JsonCodec.tree(longest).decimalValue()).isEqualTo(new BigDecimal(longest));
    }
}
