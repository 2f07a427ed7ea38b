-- Graph checks at df.start: the same timer bound and signal name limit as the builders.
CREATE OR REPLACE FUNCTION df._node_problem(p_type text, p_query text, p_left boolean, p_right boolean,
                                 p_condition boolean, p_result_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_config json;
    v_problem text;
BEGIN
    v_problem := df._result_name_problem(p_result_name);
    IF v_problem IS NOT NULL THEN
        RETURN v_problem;
    END IF;
    IF p_query IS NOT NULL AND p_type NOT IN ('SQL', 'SLEEP') THEN
        v_config := df._try_json(p_query);
    END IF;

    IF p_type IN ('SQL', 'SLEEP', 'WAIT_SCHEDULE', 'BREAK', 'SIGNAL', 'HTTP', 'HTTP_MULTIPART') THEN
        IF p_left OR p_right THEN
            RETURN format('%s node cannot have left_node or right_node', p_type);
        END IF;
        IF p_query IS NULL THEN
            RETURN format('%s node requires a query', p_type);
        END IF;
    ELSIF p_type IN ('THEN', 'IF', 'JOIN', 'RACE') THEN
        IF NOT (p_left AND p_right) THEN
            RETURN format('%s node requires left_node and right_node', p_type);
        END IF;
    ELSIF p_type = 'LOOP' THEN
        IF NOT p_left THEN
            RETURN 'LOOP node requires left_node (the loop body)';
        END IF;
        IF p_right THEN
            RETURN 'LOOP node cannot have right_node';
        END IF;
    END IF;

    CASE p_type
        WHEN 'HTTP', 'HTTP_MULTIPART' THEN
            RETURN format('%s nodes are not supported by this build', p_type);
        WHEN 'SLEEP' THEN
            IF p_query !~ '^[0-9]{1,18}$' THEN
                RETURN format('SLEEP query must be a non-negative whole number of seconds, got ''%s''', p_query);
            END IF;
            IF p_query::bigint > 999999999 THEN
                RETURN format('SLEEP seconds must be at most 999999999 (about 31 years), got %s', p_query);
            END IF;
        WHEN 'WAIT_SCHEDULE' THEN
            IF json_typeof(v_config) IS DISTINCT FROM 'object'
               OR json_typeof(v_config -> 'cron_expr') IS DISTINCT FROM 'string' THEN
                RETURN 'WAIT_SCHEDULE query must be a JSON object {"cron_expr":"<cron expression>"}';
            END IF;
            v_problem := df._cron_problem(v_config ->> 'cron_expr');
            IF v_problem IS NOT NULL THEN
                RETURN format('Invalid cron expression ''%s'': %s', v_config ->> 'cron_expr', v_problem);
            END IF;
        WHEN 'SIGNAL' THEN
            IF json_typeof(v_config) IS DISTINCT FROM 'object'
               OR json_typeof(v_config -> 'signal_name') IS DISTINCT FROM 'string' THEN
                RETURN 'SIGNAL query must be a JSON object {"signal_name":"<name>","timeout_seconds":<seconds or null>}';
            END IF;
            IF v_config ->> 'signal_name' = '' THEN
                RETURN 'Signal name cannot be empty';
            END IF;
            IF length(v_config ->> 'signal_name') > 500 THEN
                RETURN format('signal name is %s characters long; the limit is 500 characters',
                              length(v_config ->> 'signal_name'));
            END IF;
            IF coalesce(json_typeof(v_config -> 'timeout_seconds'), 'null') <> 'null' THEN
                IF btrim((v_config -> 'timeout_seconds')::text) ~ '^[0-9]{10,18}$' THEN
                    RETURN format('SIGNAL timeout_seconds must be at most 999999999 (about 31 years), got %s',
                                  btrim((v_config -> 'timeout_seconds')::text));
                END IF;
                IF btrim((v_config -> 'timeout_seconds')::text) !~ '^-?[0-9]{1,9}$' THEN
                    RETURN 'SIGNAL timeout_seconds must be a whole number of seconds or null';
                END IF;
                IF (v_config ->> 'timeout_seconds')::integer <= 0 THEN
                    RETURN 'Timeout must be positive';
                END IF;
            END IF;
        WHEN 'BREAK' THEN
            IF json_typeof(v_config) IS DISTINCT FROM 'object'
               OR coalesce(json_typeof(v_config -> 'break_value'), 'null') NOT IN ('null', 'string') THEN
                RETURN 'BREAK query must be a JSON object {"break_value":<text or null>}';
            END IF;
        WHEN 'THEN', 'RACE' THEN
            IF p_query IS NOT NULL THEN
                RETURN format('%s node cannot have a query', p_type);
            END IF;
        WHEN 'IF' THEN
            IF p_query IS NOT NULL AND json_typeof(v_config) IS DISTINCT FROM 'object' THEN
                RETURN 'query in IF must be a JSON config object';
            END IF;
            IF NOT p_condition
               AND NOT (v_config ->> 'condition_type' IS NOT DISTINCT FROM 'result_has_rows'
                        AND json_typeof(v_config -> 'result_name') IS NOT DISTINCT FROM 'string') THEN
                RETURN 'IF node requires condition_node, or a query config {"condition_type":"result_has_rows","result_name":"<name>"}';
            END IF;
        WHEN 'LOOP', 'JOIN' THEN
            IF p_query IS NOT NULL AND json_typeof(v_config) IS DISTINCT FROM 'object' THEN
                RETURN format('query in %s must be a JSON config object', p_type);
            END IF;
        ELSE
            NULL;
    END CASE;
    RETURN NULL;
END
$fn$;

-- A JSON value re-serialised compactly; for objects, a repeated key keeps its first position
-- and its last value.
CREATE OR REPLACE FUNCTION df._json_compact(p_value json) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_out text;
BEGIN
    CASE json_typeof(p_value)
        WHEN 'object' THEN
            SELECT '{' || coalesce(string_agg(to_json(k.key)::text || ':' || df._json_compact(k.value), ','
                                              ORDER BY k.first_pos), '') || '}'
              INTO v_out
              FROM (SELECT e.key, (array_agg(e.value ORDER BY e.ord DESC))[1] AS value, min(e.ord) AS first_pos
                      FROM json_each(p_value) WITH ORDINALITY AS e(key, value, ord)
                     GROUP BY e.key) k;
        WHEN 'array' THEN
            SELECT '[' || coalesce(string_agg(df._json_compact(a.value), ',' ORDER BY a.ord), '') || ']'
              INTO v_out
              FROM json_array_elements(p_value) WITH ORDINALITY AS a(value, ord);
        WHEN 'string' THEN
            v_out := to_json(p_value #>> '{}')::text;
        ELSE
            v_out := btrim(p_value::text, E' \t\n\r');
    END CASE;
    RETURN v_out;
END
$fn$;

-- The query stored for a node whose condition or extra children became ids: its JSON config
-- object (or {}) with p_members (',"key":value...') appended.
CREATE OR REPLACE FUNCTION df._config_with(p_query text, p_members text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_config text := CASE WHEN p_query IS NULL THEN '{}' ELSE df._json_compact(p_query::json) END;
BEGIN
    IF v_config = '{}' THEN
        RETURN '{' || substr(p_members, 2) || '}';
    END IF;
    RETURN left(v_config, -1) || p_members || '}';
END
$fn$;

-- A fresh random id: the last 8 hex digits of a random UUID.
CREATE OR REPLACE FUNCTION df._new_id() RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT right(gen_random_uuid()::text, 8)
$fn$;

-- True when pg_durable.enable_superuser_instances is on.
CREATE OR REPLACE FUNCTION df._superuser_instances_enabled() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(lower(btrim(current_setting('pg_durable.enable_superuser_instances', true)))
                    IN ('on', 'true', '1', 'yes'), false)
$fn$;

-- Raises unless role p_role may submit instances: it must have LOGIN (the worker connects as
-- it) and must not be a superuser unless pg_durable.enable_superuser_instances is on.
CREATE OR REPLACE FUNCTION df._check_submitter(p_role oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_role pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO v_role FROM pg_roles r WHERE r.oid = p_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role with OID % does not exist', p_role USING ERRCODE = '42704';
    END IF;
    IF NOT v_role.rolcanlogin THEN
        RAISE EXCEPTION 'current_user "%" does not have LOGIN privilege. The background worker must connect as this role to execute SQL. Grant LOGIN to this role or call df.start() as a role with LOGIN.',
            v_role.rolname USING ERRCODE = '42501';
    END IF;
    IF v_role.rolsuper AND NOT df._superuser_instances_enabled() THEN
        RAISE EXCEPTION 'pg_durable: superuser instances are disabled. current_user "%" is a superuser, but pg_durable.enable_superuser_instances is off. Set pg_durable.enable_superuser_instances = on to allow this.',
            v_role.rolname USING ERRCODE = '42501';
    END IF;
END
$fn$;
