package io.pgdurable.graph.sql;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which {@code {name}} placeholders stand where a name stands. In every statement below the
 * placeholders named {@code {n…}} must be classified as names and those named {@code {v…}} as
 * values; placeholders inside literals, quoted identifiers and comments are neither.
 */
class IdentifierPositionsTest {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{([A-Za-z_][A-Za-z0-9_]*)}");

    /** The names of the placeholders of {@code sql} classified as identifiers, in order. */
    private static List<String> classifiedAsNames(String sql) {
        Set<Integer> at = IdentifierPositions.of(SqlText.of(sql));
        List<String> out = new ArrayList<>();
        Matcher m = PLACEHOLDER.matcher(sql);
        while (m.find()) {
            if (at.contains(m.start())) {
                out.add(m.group(1));
            }
        }
        assertThat(at).as("every position is a placeholder's").allMatch(i -> sql.charAt(i) == '{');
        return out;
    }

    /** The names of the placeholders of {@code sql} in bare SQL that are meant to be names ({@code n…}). */
    private static List<String> meantAsNames(String sql) {
        List<String> out = new ArrayList<>();
        Matcher m = PLACEHOLDER.matcher(sql);
        while (m.find()) {
            if (m.group(1).startsWith("n")) {
                out.add(m.group(1));
            }
        }
        return out;
    }

    private static void check(String sql) {
        assertThat(classifiedAsNames(sql)).as(sql).isEqualTo(meantAsNames(sql));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "SELECT name FROM playground.{n1} LIMIT {v1}::int",
        "SELECT * FROM {n1}.{n2} AS x",
        "SELECT * FROM \"Play Ground\".{n1}",
        "SELECT * FROM {n1} . {n2}",
        "SELECT {n1}.col, {n2}.* FROM t",
        "SELECT {n1}.\"Col\", {n2}.{n3} FROM t",
        "SELECT 1.{v1}, {v2}.5, {v3}, {v4}.",
    })
    void a_placeholder_in_a_qualified_name_is_a_name_but_not_beside_a_number(String sql) {
        check(sql);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "SELECT * FROM {n1}",
        "select * from {n1} join {n2} on {n1}.id = {n2}.id where {n1}.a = {v1}",
        "SELECT * FROM a LEFT JOIN {n1} USING ({n2}, {n3}) WHERE b = {v1}",
        "MERGE INTO {n1} USING {n2} ON true WHEN MATCHED THEN DELETE",
        "INSERT INTO {n1} SELECT * FROM {n2}",
        "UPDATE {n1} SET a = {v1}",
        "DELETE FROM {n1} WHERE id = {v1}",
        "TRUNCATE {n1}",
        "TRUNCATE TABLE {n1}",
        "TABLE {n1}",
        "LOCK TABLE {n1} IN SHARE MODE",
        "SELECT * FROM ONLY {n1}",
        "UPDATE ONLY {n1} SET a = 1",
        "DROP TABLE IF EXISTS {n1}",
        "CREATE SCHEMA IF NOT EXISTS {n1}",
        "CREATE TABLE IF NOT EXISTS {n1}.{n2} (id int DEFAULT {v1})",
        "SELECT a INTO {n1} FROM {n2}",
        "MERGE INTO {n1} t USING src s ON t.id = s.id WHEN MATCHED THEN UPDATE SET {n2} = s.v"
                + " WHEN NOT MATCHED THEN INSERT ({n3}) VALUES ({v1})",
        "REVOKE ALL ON t FROM {n1}, {n2}",
        "FETCH NEXT FROM {n1}",
        "COPY (SELECT * FROM {n1}) TO STDOUT",
    })
    void a_placeholder_after_a_keyword_that_a_name_follows_is_a_name(String sql) {
        check(sql);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "SELECT * FROM t WHERE a IS DISTINCT FROM {v1} AND b IS NOT DISTINCT FROM {v2}",
        "SELECT extract(epoch FROM {v1}::timestamptz), substring({v2} FROM {v3}), trim(both FROM {v4})",
        "SELECT overlay({v1} placing 'x' FROM 2), substring((a) FROM {v2}) FROM {n1}",
        "COPY t FROM {v1}",
        "CREATE TABLE p PARTITION OF t FOR VALUES FROM ({v1}) TO ({v2})",
        "SELECT {v1}, {v2} AS a, f({v3}) FROM t WHERE x = {v4} ORDER BY {v5}",
        "SELECT * FROM t LIMIT {v1} OFFSET {v2}",
        "GRANT SELECT ON t TO {v1}",
        "ALTER TABLE t RENAME TO {v1}",
        "SELECT CAST({v1} AS text), {v2}::text",
        "SELECT * FROM t WHERE EXISTS (SELECT 1 FROM {n1} WHERE b = {v1})",
        "SELECT * FROM t WHERE NOT EXISTS (SELECT {v1})",
        "EXECUTE 'SELECT * FROM t WHERE a = $1' USING {v1}",
        "ALTER TABLE t ALTER c TYPE int USING {v1}",
    })
    void a_placeholder_where_a_value_may_stand_stays_a_value(String sql) {
        check(sql);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "SELECT * FROM {n1}, {n2} AS b, lateral f({v1}, {v2}) WHERE x IN ({v3}, {v4})",
        "SELECT * FROM a JOIN b ON a.id = b.id AND b.x = ANY(ARRAY[{v1}, {v2}]), {n1}",
        "SELECT * FROM a, {n1} WHERE x = 1 GROUP BY a, {v1} ORDER BY a, {v2}",
        "SELECT a, {v1} FROM t UNION SELECT b, {v2} FROM u, {n1}",
        "SELECT (SELECT 1 FROM x, {n1}), {v1} FROM y",
        "UPDATE t SET a = 1 FROM {n1}, {n2} WHERE t.id = {n1}.id RETURNING a, {v1}",
        "DELETE FROM t USING {n1}, {n2} WHERE {v1}",
    })
    void a_placeholder_after_a_comma_of_a_from_list_is_a_name_until_the_clause_ends(String sql) {
        check(sql);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "INSERT INTO t ({n1}, {n2}) VALUES ({v1}, {v2})",
        "INSERT INTO s.t AS x ({n1}) SELECT {v1}, {v2} FROM u",
        "INSERT INTO {n1}.{n2} ({n3}, \"b\", {n4}) VALUES ({v1}, ({v2}), f({v3}, {v4}))",
        "INSERT INTO t (SELECT {v1}, {v2} FROM {n1})",
        "INSERT INTO t VALUES ({v1}, {v2}) ON CONFLICT (id) DO UPDATE SET {n1} = {v3}, {n2} = excluded.b",
        "UPDATE t SET {n1} = {v1}, {n2} = f({v2}, {v3}), c = ARRAY[{v4}, {v5}] WHERE d IN ({v6}, {v7})",
        "UPDATE t SET ({n1}, {n2}) = ({v1}, {v2})",
        "GRANT INSERT ({n1}, {n2}) ON t TO r",
        "ALTER TABLE t ALTER c SET DEFAULT {v1}",
        "SET search_path = {v1}, {v2}",
    })
    void a_placeholder_in_an_insert_column_list_or_an_update_set_target_is_a_name(String sql) {
        check(sql);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "SELECT 'FROM {x}', \"{y}\", E'a.{z}' FROM t -- FROM {w}\n /* JOIN {q} */ WHERE a = {v1}",
        "SELECT * FROM t; SELECT {v1}, {v2}",
        "SELECT * FROM /* c */ {n1} -- c\n JOIN\n{n2} ON true",
    })
    void literals_comments_and_statements_are_respected(String sql) {
        check(sql);
    }
}
