package io.pgdurable.graph.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.pgdurable.engine.JsonCodec;
import io.pgdurable.graph.model.GraphException;
import io.pgdurable.graph.sql.SubstitutionContext;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** An HTTP node's config into the activity's input: placeholders as plain text, checks before and after. */
class HttpStepsTest {
    private static final HttpSteps.Submitter WHO = new HttpSteps.Submitter("abcd1234", "app", 42L);

    private static JsonNode json(String text) {
        try {
            return JsonCodec.mapper().readTree(text);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static SubstitutionContext ctx() {
        Map<String, JsonNode> results = new LinkedHashMap<>();
        results.put("row", json("{\"rows\":[{\"id\":7,\"name\":\"Ann \\\"A\\\"\",\"note\":null,\"tags\":[1,2]}],\"row_count\":1}"));
        results.put("none", json("{\"rows\":[],\"row_count\":0}"));
        results.put("resp", json("{\"status\":200,\"body\":\"aGVsbG8=\",\"encoding\":\"base64\",\"ok\":true}"));
        return new SubstitutionContext(Map.of("api", "https://api.example.test", "evil", "x\r\nX-Injected: 1"),
                "abcd1234", "nightly", results);
    }

    private static HttpStepInput prepare(String type, String config) {
        return HttpSteps.prepare(type, "n1", config, ctx(), WHO);
    }

    @Test
    void placeholders_fill_the_url_body_and_headers_as_plain_text() {
        HttpStepInput in = prepare("HTTP", "{\"url\":\"{api}/users/$row.id??label={sys_label}&id=$row.id?\",\"method\":\"post\","
                + "\"body\":\"{\\\"name\\\": \\\"$row.name\\\", \\\"tags\\\": $row.tags, \\\"note\\\": \\\"$row.note?\\\","
                + " \\\"status\\\": $resp.status, \\\"whole\\\": $resp, \\\"unknown\\\": \\\"$nope {nope}\\\"}\","
                + "\"headers\":{\"X-Instance\":\"{sys_instance_id}\",\"Idempotency-Key\":\"{sys_idempotency_key}\"}}");

        assertThat(in.url()).isEqualTo("https://api.example.test/users/7?label=nightly&id=7");
        assertThat(in.method()).isEqualTo("POST");
        assertThat(in.timeoutSeconds()).isEqualTo(30);
        assertThat(in.body()).isEqualTo("{\"name\": \"Ann \"A\"\", \"tags\": [1,2], \"note\": \"\", \"status\": 200,"
                + " \"whole\": {\"status\":200,\"body\":\"aGVsbG8=\",\"encoding\":\"base64\",\"ok\":true},"
                + " \"unknown\": \"$nope {nope}\"}");
        assertThat(in.headers()).containsExactly(Map.entry("X-Instance", "abcd1234"),
                Map.entry("Idempotency-Key", HttpTemplate.IDEMPOTENCY_KEY));
        assertThat(in.roleOid()).isEqualTo(42L);
    }

    @Test
    void a_question_mark_right_after_a_placeholder_is_its_null_safe_marker() {
        HttpStepInput in = prepare("HTTP", "{\"url\":\"https://a.test/$row.id?page=2\",\"method\":\"GET\"}");

        assertThat(in.url()).isEqualTo("https://a.test/7page=2");
    }

    @Test
    void strict_references_to_missing_values_fail_naming_them() {
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/$none\",\"method\":\"GET\"}"))
                .isInstanceOf(GraphException.class).hasMessage("$none has no rows — query returned zero results");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/$row.note\",\"method\":\"GET\"}"))
                .hasMessage("$row.note is NULL");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/$resp.missing\",\"method\":\"GET\"}"))
                .hasMessage("$resp.missing: the result has no column or field 'missing'");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/\",\"method\":\"GET\",\"body\":\"$row.*\"}"))
                .hasMessage("$row.* cannot be used in an HTTP step's body; a row set belongs in a SQL step");
    }

    @Test
    void a_substituted_value_cannot_add_a_header_line_or_break_the_url() {
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/\",\"method\":\"GET\","
                + "\"headers\":{\"X-A\":\"{evil}\"}}"))
                .hasMessage("header \"X-A\" has a control character (such as a line break) in its value after substitution");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"{evil}\",\"method\":\"GET\"}"))
                .hasMessageStartingWith("the url of HTTP node n1 is not a valid URL after substitution: 'x");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"$row.id\",\"method\":\"GET\"}"))
                .hasMessage("the url of HTTP node n1 must be an http:// or https:// URL with a host, got '7'");
    }

    @Test
    void hand_written_configs_meet_the_builder_checks() {
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/\",\"method\":\"TRACE\"}"))
                .hasMessage("Invalid HTTP method: TRACE. Must be GET, POST, PUT, DELETE, or PATCH");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/\",\"method\":\"GET\",\"timeout_seconds\":4000}"))
                .hasMessage("timeout_seconds must be at most 3600 (one hour), got 4000");
        assertThatThrownBy(() -> prepare("HTTP", "{\"url\":\"https://a.test/\",\"method\":\"GET\",\"headers\":{\"Host\":\"x\"}}"))
                .hasMessage("header \"Host\" is set by pg_durable itself and may not be given");
        assertThatThrownBy(() -> prepare("HTTP", "[1]")).hasMessage("HTTP node n1: its config is not a JSON object");
    }

    @Test
    void data_b64_takes_one_whole_placeholder_and_nothing_mixed() {
        HttpStepInput in = prepare("HTTP_MULTIPART", "{\"url\":\"https://a.test/u\",\"method\":\"POST\","
                + "\"headers\":{\"Content-Type\":\"text/plain\",\"X-B\":\"1\"},"
                + "\"parts\":[{\"name\":\"f$row.id\",\"filename\":\"{sys_label}.bin\",\"data_b64\":\" $resp.body \"}]}");

        assertThat(in.parts()).containsExactly(new HttpStepInput.Part("f7", "nightly.bin", null, "aGVsbG8="));
        assertThat(in.headers()).containsOnlyKeys("X-B");
        assertThatThrownBy(() -> prepare("HTTP_MULTIPART", "{\"url\":\"https://a.test/u\",\"method\":\"POST\","
                + "\"parts\":[{\"name\":\"f\",\"data_b64\":\"QUJD$resp.body\"}]}"))
                .hasMessageStartingWith("parts[0] (\"f\"): data_b64 may hold base64 or one placeholder");
        assertThatThrownBy(() -> prepare("HTTP_MULTIPART", "{\"url\":\"https://a.test/u\",\"method\":\"POST\","
                + "\"parts\":[{\"name\":\"{evil}\",\"data_b64\":\"QUJD\"}]}"))
                .hasMessageContaining("may not contain double quotes or control characters");
    }

    @Test
    void multipart_data_that_is_not_base64_fails_naming_the_part() {
        assertThatThrownBy(() -> Multipart.encode(java.util.List.of(new HttpStepInput.Part("doc", null, null, "not base64!"))))
                .hasMessage("Invalid base64 in part 'doc': not valid base64");
    }

    @Test
    void the_body_is_text_when_declared_or_valid_utf8_and_base64_otherwise() {
        assertThat(ResponseEnvelope.body("application/problem+json", "{}".getBytes()).encoding()).isEqualTo("text");
        assertThat(ResponseEnvelope.body(null, "plain".getBytes()).encoding()).isEqualTo("text");
        assertThat(ResponseEnvelope.body("image/png", new byte[] {(byte) 0x89, 'P', 'N', 'G'}).encoding()).isEqualTo("base64");
        assertThat(ResponseEnvelope.body("text/plain", new byte[] {'a', 0, 'b'}))
                .isEqualTo(new ResponseEnvelope.Body("YQBi", "base64"));
    }
}
