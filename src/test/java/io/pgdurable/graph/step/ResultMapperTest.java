package io.pgdurable.graph.step;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pgdurable.testing.TestCluster;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Result sets from a real server turned into step results. */
class ResultMapperTest {

    private static final String ALL_TYPES = """
            SELECT true AS b, NULL::bool AS b_null, 1::int2 AS i2, 2::int4 AS i4, 9000000000::int8 AS i8,
                   NULL::int4 AS i_null, 0.1::float4 AS f4, 1.5::float8 AS f8, 'NaN'::float8 AS f_nan,
                   'Infinity'::float4 AS f_inf, '-Infinity'::float8 AS f_ninf,
                   123.4500::numeric AS n, 'NaN'::numeric AS n_nan, 1e-10::numeric AS n_small,
                   1e20::numeric AS n_big, NULL::numeric AS n_null,
                   'txt'::text AS t, 'vc'::varchar(5) AS vc, 'bp'::char(4) AS bp, 'nm'::name AS nm,
                   'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid AS u,
                   '2024-06-15'::date AS d, 'infinity'::date AS d_inf, '0001-01-01 BC'::date AS d_bc,
                   '2024-06-15 12:30:00'::timestamp AS ts, '2024-06-15 12:30:00.5'::timestamp AS ts_ms,
                   '2024-06-15 12:30:00.123456'::timestamp AS ts_us,
                   '2024-06-15 14:30:00+02'::timestamptz AS tz, '2024-06-15 12:30:00.25+00'::timestamptz AS tz_ms,
                   '-infinity'::timestamptz AS tz_inf, NULL::timestamptz AS tz_null,
                   '{"a": [1, 2.50, {"b": null}], "z": 0.1000000000000000000001}'::jsonb AS jb,
                   '{"z":1,"a":2}'::json AS js, '"str"'::jsonb AS j_str, 'null'::jsonb AS j_null_value,
                   NULL::jsonb AS j_null, pg_sleep(0) AS v
            """;

    private static final String ALL_TYPES_RESULT = "{\"rows\":[{\"b\":true,\"b_null\":null,\"i2\":1,\"i4\":2,"
            + "\"i8\":9000000000,\"i_null\":null,\"f4\":0.1,\"f8\":1.5,\"f_nan\":null,\"f_inf\":null,\"f_ninf\":null,"
            + "\"n\":\"123.4500\",\"n_nan\":\"NaN\",\"n_small\":\"0.0000000001\",\"n_big\":\"100000000000000000000\","
            + "\"n_null\":null,\"t\":\"txt\",\"vc\":\"vc\",\"bp\":\"bp  \",\"nm\":\"nm\","
            + "\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",\"d\":\"2024-06-15\",\"d_inf\":\"infinity\","
            + "\"d_bc\":\"0000-01-01\",\"ts\":\"2024-06-15T12:30:00\",\"ts_ms\":\"2024-06-15T12:30:00.500\","
            + "\"ts_us\":\"2024-06-15T12:30:00.123456\",\"tz\":\"2024-06-15T12:30:00+00:00\","
            + "\"tz_ms\":\"2024-06-15T12:30:00.250+00:00\",\"tz_inf\":\"-infinity\",\"tz_null\":null,"
            + "\"jb\":{\"a\":[1,2.50,{\"b\":null}],\"z\":0.1000000000000000000001},\"js\":{\"z\":1,\"a\":2},"
            + "\"j_str\":\"str\",\"j_null_value\":null,\"j_null\":null,\"v\":null}],\"row_count\":1}";

    private static String db;

    @BeforeAll
    static void createDatabase() {
        db = TestCluster.get().createEmptyDatabase("graph_results");
    }

    private static ObjectNode query(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET TimeZone = 'America/New_York'");
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (!ps.execute()) {
                return ResultMapper.empty();
            }
            try (ResultSet rs = ps.getResultSet()) {
                return ResultMapper.map(rs);
            }
        }
    }

    private static ObjectNode query(String sql) throws SQLException {
        try (Connection c = TestCluster.get().connect(db)) {
            return query(c, sql);
        }
    }

    @Test
    void every_supported_type_maps_as_the_original_did() throws SQLException {
        assertThat(query(ALL_TYPES)).hasToString(ALL_TYPES_RESULT);
    }

    @Test
    void binary_transfer_gives_the_same_result_for_supported_types() throws SQLException {
        String url = TestCluster.get().jdbcUrl(db, TestCluster.SUPERUSER) + "&prepareThreshold=-1";
        try (Connection c = DriverManager.getConnection(url)) {
            assertThat(query(c, ALL_TYPES)).hasToString(ALL_TYPES_RESULT);
            assertThat(query(c, "SELECT '\\xdeadbeef'::bytea AS by").get("rows").get(0).get("by").asText())
                    .isEqualTo("\\xdeadbeef");
        }
    }

    @Test
    void other_types_are_encoded_as_their_text_form() throws SQLException {
        JsonNode row = query("""
                SELECT '1 day 02:00:00'::interval AS iv, ARRAY[1, 2, 3] AS arr, ARRAY['a b', 'c'] AS tarr,
                       '\\xdeadbeef'::bytea AS by, '10.0.0.1/32'::inet AS ip, ROW(1, 'a') AS rec, 'x'::"char" AS ch,
                       12::oid AS o, '12:30'::time AS tm, B'101' AS bits, NULL::interval AS iv_null
                """).get("rows").get(0);
        assertThat(row.toString()).isEqualTo("{\"iv\":\"1 day 02:00:00\",\"arr\":\"{1,2,3}\","
                + "\"tarr\":\"{\\\"a b\\\",c}\","
                + "\"by\":\"\\\\xdeadbeef\",\"ip\":\"10.0.0.1\",\"rec\":\"(1,a)\",\"ch\":\"x\",\"o\":\"12\","
                + "\"tm\":\"12:30:00\",\"bits\":\"101\",\"iv_null\":null}");
    }

    @Test
    void rows_keep_column_order_and_a_repeated_name_keeps_its_first_place_and_last_value() throws SQLException {
        assertThat(query("SELECT 1 AS a, 2 AS b, 3 AS a, 4 AS \"A\"")).hasToString(
                "{\"rows\":[{\"a\":3,\"b\":2,\"A\":4}],\"row_count\":1}");
    }

    @Test
    void row_count_is_the_number_of_rows_returned() throws SQLException {
        assertThat(query("SELECT g AS n, g * 2 AS twice FROM generate_series(1, 3) g")).hasToString(
                "{\"rows\":[{\"n\":1,\"twice\":2},{\"n\":2,\"twice\":4},{\"n\":3,\"twice\":6}],\"row_count\":3}");
        assertThat(query("SELECT 1 AS a WHERE false")).hasToString("{\"rows\":[],\"row_count\":0}");
    }

    @Test
    void statements_without_a_result_set_give_the_empty_result() throws SQLException {
        assertThat(ResultMapper.empty()).hasToString("{\"rows\":[],\"row_count\":0}");
        try (Connection c = TestCluster.get().connect(db)) {
            assertThat(query(c, "CREATE TEMP TABLE t (x int)")).isEqualTo(ResultMapper.empty());
            assertThat(query(c, "INSERT INTO t VALUES (1), (2)")).isEqualTo(ResultMapper.empty());
            assertThat(query(c, "INSERT INTO t VALUES (3) RETURNING x")).hasToString(
                    "{\"rows\":[{\"x\":3}],\"row_count\":1}");
        }
    }

    @Test
    void empty_result_is_a_fresh_object_each_time() {
        ObjectNode a = ResultMapper.empty();
        a.put("row_count", 5);
        assertThat(ResultMapper.empty().get("row_count").asInt()).isZero();
        assertThat(List.of(ResultMapper.empty().get("rows").size())).containsExactly(0);
    }
}
