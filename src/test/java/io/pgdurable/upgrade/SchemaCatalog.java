package io.pgdurable.upgrade;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What pg_durable put in a database's catalog: every object of the schemas {@code df} and
 * {@code df_engine} (and the operators whose functions live there), each as a key such as
 * {@code function df.start(text,text,text,...)} with a definition made of what PostgreSQL itself
 * prints for it (pg_get_functiondef, pg_get_indexdef, pg_get_constraintdef, ...), its owner, its
 * privileges (expanded and sorted, so that the order of the GRANTs does not matter), its comment
 * and the extension it belongs to. No OIDs, no data, no timestamps: two databases with the same
 * schema give the same snapshot.
 *
 * <p>Used to check that an upgraded database equals a fresh install. It is local to the upgrade
 * tests until the schema package has a shared catalog snapshot; then that one replaces it.
 */
final class SchemaCatalog {

    private static final String SCHEMAS = "('df', 'df_engine')";

    private final SortedMap<String, String> objects;

    private SchemaCatalog(SortedMap<String, String> objects) {
        this.objects = objects;
    }

    /** Reads the catalog of the database {@code c} is connected to. */
    static SchemaCatalog of(Connection c) throws SQLException {
        SortedMap<String, String> objects = new TreeMap<>();
        for (String query : QUERIES) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(query)) {
                while (rs.next()) {
                    String key = rs.getString(1);
                    String previous = objects.put(key, Objects.requireNonNullElse(rs.getString(2), ""));
                    if (previous != null) {
                        throw new IllegalStateException("two catalog objects are both named '" + key + "'");
                    }
                }
            }
        }
        return new SchemaCatalog(objects);
    }

    /** How many objects the snapshot holds. */
    int size() {
        return objects.size();
    }

    /** The objects by key, in key order. */
    Map<String, String> objects() {
        return objects;
    }

    /**
     * What differs from {@code expected}, one paragraph per object, or an empty string if nothing
     * does. Names this snapshot {@code thisName} and the other {@code expectedName}.
     */
    String differencesFrom(SchemaCatalog expected, String thisName, String expectedName) {
        TreeSet<String> keys = new TreeSet<>(objects.keySet());
        keys.addAll(expected.objects.keySet());
        List<String> out = new ArrayList<>();
        for (String key : keys) {
            String mine = objects.get(key);
            String theirs = expected.objects.get(key);
            if (mine == null) {
                out.add("only in " + expectedName + ": " + key + "\n" + indent(theirs));
            } else if (theirs == null) {
                out.add("only in " + thisName + ": " + key + "\n" + indent(mine));
            } else if (!mine.equals(theirs)) {
                out.add("differs: " + key + "\n  " + thisName + ":\n" + indent(mine) + "\n  " + expectedName + ":\n"
                        + indent(theirs));
            }
        }
        return String.join("\n", out);
    }

    /** The whole snapshot as text, one object after another in key order. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        objects.forEach((k, v) -> sb.append(k).append('\n').append(indent(v)).append('\n'));
        return sb.toString();
    }

    private static String indent(String text) {
        return "    " + text.replace("\n", "\n    ");
    }

    /** Privileges on one object, expanded (defaults made explicit) and sorted. */
    private static String acl(String column, String kind, String owner) {
        String entry = "CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ':'"
                + " || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END"
                + " || '/' || pg_get_userbyid(a.grantor)";
        return "(SELECT ' acl=' || coalesce(string_agg(" + entry + ", ' ' ORDER BY " + entry + " COLLATE \"C\"), '')"
                + " FROM aclexplode(coalesce(" + column + ", acldefault((" + kind + ")::\"char\", " + owner + "))) a)";
    }

    private static String extension(String catalog, String oid) {
        return "coalesce(' extension=' || (SELECT e.extname FROM pg_depend dep JOIN pg_extension e ON e.oid = dep.refobjid"
                + " WHERE dep.classid = '" + catalog + "'::regclass AND dep.objid = " + oid
                + " AND dep.deptype = 'e'), '')";
    }

    private static String comment(String oid, String catalog) {
        return "coalesce(E'\\ncomment: ' || obj_description(" + oid + ", '" + catalog + "'), '')";
    }

    private static final List<String> QUERIES = List.of(
            // Schemas.
            "SELECT 'schema ' || n.nspname, 'owner=' || pg_get_userbyid(n.nspowner)"
                    + " || " + acl("n.nspacl", "'n'", "n.nspowner") + " || " + extension("pg_namespace", "n.oid")
                    + " || " + comment("n.oid", "pg_namespace")
                    + " FROM pg_namespace n WHERE n.nspname IN " + SCHEMAS,
            // Tables, views, sequences, composite types: columns in order, with defaults and column privileges.
            "SELECT 'relation ' || c.oid::regclass::text,"
                    + " 'kind=' || c.relkind::text || ' owner=' || pg_get_userbyid(c.relowner)"
                    + " || ' persistence=' || c.relpersistence::text || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity"
                    + " || coalesce(' options=' || c.reloptions::text, '')"
                    + " || CASE WHEN c.relkind = 'c' THEN '' ELSE "
                    + acl("c.relacl", "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END", "c.relowner") + " END"
                    + " || " + extension("pg_class", "c.oid")
                    + " || coalesce((SELECT E'\\n' || string_agg('  ' || quote_ident(a.attname) || ' '"
                    + "      || format_type(a.atttypid, a.atttypmod)"
                    + "      || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END"
                    + "      || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')"
                    + "      || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END"
                    + "      || CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END"
                    + "      || CASE WHEN a.attcollation <> t.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END"
                    + "      || coalesce(' column-acl=' || a.attacl::text, '')"
                    + "      || coalesce(' comment: ' || col_description(c.oid, a.attnum), ''),"
                    + "      E'\\n' ORDER BY a.attnum)"
                    + "    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
                    + "    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                    + "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')"
                    + " || CASE WHEN c.relkind IN ('v', 'm') THEN E'\\nAS ' || pg_get_viewdef(c.oid) ELSE '' END"
                    + " || coalesce((SELECT format(E'\\nsequence %s start %s increment %s min %s max %s cache %s cycle %s',"
                    + "      format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)"
                    + "    FROM pg_sequence s WHERE s.seqrelid = c.oid), '')"
                    + " || coalesce((SELECT E'\\nowned by ' || dep.refobjid::regclass::text || '.' || quote_ident(a.attname)"
                    + "    FROM pg_depend dep JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid"
                    + "   WHERE c.relkind = 'S' AND dep.classid = 'pg_class'::regclass AND dep.objid = c.oid"
                    + "     AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')), '')"
                    + " || " + comment("c.oid", "pg_class")
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS + " AND c.relkind NOT IN ('i', 'I')",
            // Indexes.
            "SELECT 'index ' || c.oid::regclass::text, pg_get_indexdef(c.oid)"
                    + " || CASE WHEN x.indisclustered THEN ' CLUSTERED' ELSE '' END"
                    + " || " + comment("c.oid", "pg_class")
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_index x ON x.indexrelid = c.oid"
                    + " WHERE n.nspname IN " + SCHEMAS + " AND c.relkind IN ('i', 'I')",
            // Constraints of tables and of domains.
            "SELECT 'constraint ' || coalesce(nullif(k.conrelid, 0)::regclass::text, nullif(k.contypid, 0)::regtype::text)"
                    + "   || ' ' || quote_ident(k.conname),"
                    + " pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' (not validated)' END"
                    + " || " + comment("k.oid", "pg_constraint")
                    + " FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace"
                    + " WHERE n.nspname IN " + SCHEMAS,
            // Functions and procedures, with their full definition (body, settings, security).
            "SELECT 'function ' || p.oid::regprocedure::text,"
                    + " CASE WHEN p.prokind = 'a' THEN 'aggregate returning ' || format_type(p.prorettype, NULL)"
                    + "      ELSE pg_get_functiondef(p.oid) END"
                    + " || E'\\nowner=' || pg_get_userbyid(p.proowner)"
                    + " || " + acl("p.proacl", "'f'", "p.proowner") + " || " + extension("pg_proc", "p.oid")
                    + " || " + comment("p.oid", "pg_proc")
                    + " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    + " WHERE n.nspname IN " + SCHEMAS,
            // Enums and domains (composite types are relations above; array types follow their element).
            "SELECT 'type ' || t.oid::regtype::text,"
                    + " 'kind=' || t.typtype::text || ' owner=' || pg_get_userbyid(t.typowner)"
                    + " || CASE WHEN t.typtype = 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod)"
                    + "      || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || t.typdefault, '')"
                    + "    ELSE '' END"
                    + " || coalesce(' labels=' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)"
                    + "    FROM pg_enum e WHERE e.enumtypid = t.oid), '')"
                    + " || " + acl("t.typacl", "'T'", "t.typowner") + " || " + extension("pg_type", "t.oid")
                    + " || " + comment("t.oid", "pg_type")
                    + " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS + " AND t.typtype IN ('e', 'd', 'b', 'r', 'm')"
                    + " AND NOT (t.typcategory = 'A' AND t.typelem <> 0)",
            // Triggers.
            "SELECT 'trigger ' || g.tgrelid::regclass::text || ' ' || quote_ident(g.tgname),"
                    + " pg_get_triggerdef(g.oid) || CASE g.tgenabled WHEN 'O' THEN '' ELSE ' enabled=' || g.tgenabled::text END"
                    + " || " + comment("g.oid", "pg_trigger")
                    + " FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS + " AND NOT g.tgisinternal",
            // Row-level security policies.
            "SELECT 'policy ' || p.polrelid::regclass::text || ' ' || quote_ident(p.polname),"
                    + " 'command=' || p.polcmd::text || ' permissive=' || p.polpermissive"
                    + " || ' roles=' || (SELECT string_agg(CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ','"
                    + "      ORDER BY CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END COLLATE \"C\") FROM unnest(p.polroles) r)"
                    + " || coalesce(' using ' || pg_get_expr(p.polqual, p.polrelid), '')"
                    + " || coalesce(' check ' || pg_get_expr(p.polwithcheck, p.polrelid), '')"
                    + " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS,
            // Operators in these schemas, or anywhere (e.g. pg_catalog) if a function here implements them.
            "SELECT 'operator ' || o.oid::regoperator::text || ' in ' || o.oprnamespace::regnamespace::text,"
                    + " 'function=' || o.oprcode::regprocedure::text || ' result=' || format_type(o.oprresult, NULL)"
                    + " || ' commutator=' || o.oprcom::regoperator::text || ' negator=' || o.oprnegate::regoperator::text"
                    + " || ' owner=' || pg_get_userbyid(o.oprowner) || " + extension("pg_operator", "o.oid")
                    + " || " + comment("o.oid", "pg_operator")
                    + " FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode JOIN pg_namespace pn ON pn.oid = p.pronamespace"
                    + " JOIN pg_namespace n ON n.oid = o.oprnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS + " OR pn.nspname IN " + SCHEMAS,
            // Default privileges for objects created later in these schemas.
            "SELECT 'default privileges ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text"
                    + "   || coalesce(' in ' || nullif(d.defaclnamespace, 0)::regnamespace::text, ''),"
                    + " d.defaclacl::text"
                    + " FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace"
                    + " WHERE n.nspname IN " + SCHEMAS);
}
