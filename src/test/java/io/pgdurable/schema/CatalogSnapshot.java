package io.pgdurable.schema;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A deterministic text snapshot of everything pg_durable puts into a database: the schemas
 * {@code df} and {@code df_engine} and their tables, columns (in column order, dropped ones left
 * out), constraints, indexes, sequences, views, functions ({@code pg_get_functiondef}), triggers,
 * row-level security policies, rules, types, privileges and comments, plus the operators
 * pg_durable defines in {@code pg_catalog} (those implemented by a {@code df} function).
 *
 * <p>Two databases hold the same pg_durable schema when their snapshots are equal, so a test can
 * compare, line by line, a database upgraded from an earlier release with a fresh install of the
 * current one. Object identifiers, and anything that depends on the order in which objects were
 * created or privileges granted, are left out: privileges are listed as sorted ACL items, with the
 * built-in default spelled out when none were ever granted or revoked. Role names are kept.
 * Extension membership is left out, so an extension install and a JDBC install compare equal.
 *
 * <p>Each line is {@code <kind> <object>: <detail>}; the lines are sorted, and multi-line
 * definitions are kept as they come from the server.
 */
public final class CatalogSnapshot {

    /** Schemas whose contents the snapshot covers. */
    public static final List<String> SCHEMAS = List.of("df", "df_engine");

    private static final String IN_SCHEMAS = "('df', 'df_engine')";

    private final List<String> lines;

    private CatalogSnapshot(List<String> lines) {
        this.lines = List.copyOf(lines);
    }

    /** Takes the snapshot of the database {@code c} is connected to. */
    public static CatalogSnapshot of(Connection c) throws SQLException {
        Objects.requireNonNull(c, "c");
        List<String> out = new ArrayList<>();
        for (String[] query : QUERIES) {
            collect(c, query[0], query[1], out);
        }
        out.sort(null);
        return new CatalogSnapshot(out);
    }

    /** The lines of the snapshot, sorted. */
    public List<String> lines() {
        return lines;
    }

    /** The lines of the snapshot whose kind (first word) is {@code kind}. */
    public List<String> lines(String kind) {
        return lines.stream().filter(l -> l.startsWith(kind + " ")).toList();
    }

    /** The snapshot as text, one entry per line. */
    public String text() {
        return String.join("\n", lines) + "\n";
    }

    /**
     * The entries of this snapshot missing from {@code other} ({@code -}) and those of
     * {@code other} missing from this one ({@code +}), for an assertion message.
     */
    public String diff(CatalogSnapshot other) {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            if (!other.lines.contains(l)) {
                sb.append("- ").append(l).append('\n');
            }
        }
        for (String l : other.lines) {
            if (!lines.contains(l)) {
                sb.append("+ ").append(l).append('\n');
            }
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CatalogSnapshot s && s.lines.equals(lines);
    }

    @Override
    public int hashCode() {
        return lines.hashCode();
    }

    @Override
    public String toString() {
        return text();
    }

    private static void collect(Connection c, String kind, String sql, List<String> out) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                String object = rs.getString(1);
                String detail = rs.getString(2);
                out.add(kind + " " + object + ": " + (detail == null ? "(null)" : detail));
            }
        }
    }

    /** Kind, then a query returning (object, detail). */
    private static final String[][] QUERIES = {
        {"schema", """
            SELECT n.nspname::text,
                   'owner=' || pg_catalog.pg_get_userbyid(n.nspowner)
                   || ' acl=' || (SELECT coalesce(pg_catalog.string_agg(x::text, ',' ORDER BY x::text), '(none)') FROM pg_catalog.unnest(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) x)
                   || ' comment=' || coalesce(pg_catalog.obj_description(n.oid, 'pg_namespace'), '(none)')
              FROM pg_catalog.pg_namespace n WHERE n.nspname IN """ + IN_SCHEMAS},
        {"relation", """
            SELECT n.nspname || '.' || c.relname,
                   'kind=' || c.relkind::text || ' owner=' || pg_catalog.pg_get_userbyid(c.relowner)
                   || ' persistence=' || c.relpersistence::text
                   || ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity
                   || ' options=' || coalesce(c.reloptions::text, '(none)')
                   || ' acl=' || CASE WHEN c.relkind = 'S' THEN (SELECT coalesce(pg_catalog.string_agg(x::text, ',' ORDER BY x::text), '(none)') FROM pg_catalog.unnest(coalesce(c.relacl, pg_catalog.acldefault('s', c.relowner))) x) ELSE (SELECT coalesce(pg_catalog.string_agg(x::text, ',' ORDER BY x::text), '(none)') FROM pg_catalog.unnest(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) x) END
                   || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '(none)')
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + " AND c.relkind <> 'i'"},
        {"columns", """
            SELECT n.nspname || '.' || c.relname,
                   pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                       || coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
                       || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
                       || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
                       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                               THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
                       || coalesce(' acl=' || (SELECT pg_catalog.string_agg(x::text, ',' ORDER BY x::text) FROM pg_catalog.unnest(a.attacl) x), '')
                       || coalesce(' comment=' || pg_catalog.col_description(c.oid, a.attnum), ''),
                       ', ' ORDER BY a.attnum)
              FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE n.nspname IN """ + IN_SCHEMAS + """
               AND c.relkind <> 'i'
             GROUP BY n.nspname, c.relname"""},
        {"constraint", """
            SELECT n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname,
                   pg_catalog.pg_get_constraintdef(k.oid)
                   || CASE WHEN k.condeferrable THEN ' deferrable' ELSE '' END
                   || ' comment=' || coalesce(pg_catalog.obj_description(k.oid, 'pg_constraint'), '(none)')
              FROM pg_catalog.pg_constraint k
              JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
              LEFT JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
              LEFT JOIN pg_catalog.pg_type t ON t.oid = k.contypid
             WHERE n.nspname IN """ + IN_SCHEMAS},
        {"index", """
            SELECT n.nspname || '.' || c.relname,
                   pg_catalog.pg_get_indexdef(c.oid)
                   || ' comment=' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '(none)')
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + " AND c.relkind = 'i'"},
        {"sequence", """
            SELECT n.nspname || '.' || c.relname,
                   pg_catalog.format_type(s.seqtypid, NULL) || ' start=' || s.seqstart || ' inc=' || s.seqincrement
                   || ' min=' || s.seqmin || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle=' || s.seqcycle
                   || coalesce(' owned_by=' || (SELECT dc.relname || '.' || da.attname
                                                  FROM pg_catalog.pg_depend dp
                                                  JOIN pg_catalog.pg_class dc ON dc.oid = dp.refobjid
                                                  JOIN pg_catalog.pg_attribute da
                                                    ON da.attrelid = dp.refobjid AND da.attnum = dp.refobjsubid
                                                 WHERE dp.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                                   AND dp.objid = c.oid AND dp.deptype IN ('a', 'i')
                                                   AND dp.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                                                 LIMIT 1), '')
              FROM pg_catalog.pg_sequence s
              JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS},
        {"view", """
            SELECT n.nspname || '.' || c.relname, pg_catalog.pg_get_viewdef(c.oid)
              FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + " AND c.relkind IN ('v', 'm')"},
        {"function", """
            SELECT p.oid::pg_catalog.regprocedure::text,
                   'owner=' || pg_catalog.pg_get_userbyid(p.proowner)
                   || ' acl=' || (SELECT coalesce(pg_catalog.string_agg(x::text, ',' ORDER BY x::text), '(none)') FROM pg_catalog.unnest(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) x)
                   || ' comment=' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '(none)')
                   || E'\n' || CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_catalog.pg_get_functiondef(p.oid) END
              FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN """ + IN_SCHEMAS},
        {"trigger", """
            SELECT n.nspname || '.' || c.relname || '.' || g.tgname,
                   pg_catalog.pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
                   || ' comment=' || coalesce(pg_catalog.obj_description(g.oid, 'pg_trigger'), '(none)')
              FROM pg_catalog.pg_trigger g
              JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + " AND NOT g.tgisinternal"},
        {"policy", """
            SELECT p.schemaname || '.' || p.tablename || '.' || p.policyname,
                   p.permissive || ' ' || p.cmd || ' to ' || p.roles::text
                   || ' using ' || coalesce(p.qual, '(none)') || ' check ' || coalesce(p.with_check, '(none)')
              FROM pg_catalog.pg_policies p WHERE p.schemaname IN """ + IN_SCHEMAS},
        {"rule", """
            SELECT r.schemaname || '.' || r.tablename || '.' || r.rulename, r.definition
              FROM pg_catalog.pg_rules r WHERE r.schemaname IN """ + IN_SCHEMAS},
        {"type", """
            SELECT n.nspname || '.' || t.typname,
                   'type=' || t.typtype::text || ' owner=' || pg_catalog.pg_get_userbyid(t.typowner)
                   || ' acl=' || (SELECT coalesce(pg_catalog.string_agg(x::text, ',' ORDER BY x::text), '(none)') FROM pg_catalog.unnest(coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner))) x)
                   || CASE WHEN t.typtype = 'd' THEN ' base=' || pg_catalog.format_type(t.typbasetype, t.typtypmod)
                           || ' not_null=' || t.typnotnull ELSE '' END
                   || CASE WHEN t.typtype = 'e' THEN ' labels=' || (SELECT pg_catalog.string_agg(e.enumlabel, ','
                           ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) ELSE '' END
                   || ' comment=' || coalesce(pg_catalog.obj_description(t.oid, 'pg_type'), '(none)')
              FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + """
               AND t.typtype <> 'b'
               AND NOT (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                                     WHERE c.oid = t.typrelid AND c.relkind <> 'c'))"""},
        {"operator", """
            SELECT n.nspname || '.' || o.oprname || '(' || coalesce(pg_catalog.format_type(o.oprleft, NULL), 'none')
                   || ', ' || coalesce(pg_catalog.format_type(o.oprright, NULL), 'none') || ')',
                   'function=' || o.oprcode::text || ' result=' || pg_catalog.format_type(o.oprresult, NULL)
                   || ' owner=' || pg_catalog.pg_get_userbyid(o.oprowner)
                   || ' commutator=' || o.oprcom::pg_catalog.regoperator::text
                   || ' negator=' || o.oprnegate::pg_catalog.regoperator::text
                   || ' comment=' || coalesce(pg_catalog.obj_description(o.oid, 'pg_operator'), '(none)')
              FROM pg_catalog.pg_operator o
              JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
              JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
              JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
             WHERE n.nspname IN """ + IN_SCHEMAS + " OR pn.nspname IN " + IN_SCHEMAS},
        {"default_acl", """
            SELECT coalesce(n.nspname, '(all)') || '.' || d.defaclobjtype::text || '.' || pg_catalog.pg_get_userbyid(d.defaclrole),
                   (SELECT pg_catalog.string_agg(x::text, ',' ORDER BY x::text) FROM pg_catalog.unnest(d.defaclacl) x)
              FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
             WHERE n.nspname IN """ + IN_SCHEMAS},
    };
}
