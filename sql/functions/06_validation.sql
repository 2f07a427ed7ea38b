-- Graph checks at df.start: the same timer bound, signal name limit and HTTP checks as the builders.
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
            RETURN df._http_problem(p_type, v_config);
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
-- PL/pgSQL, as the other helpers df.start calls once per node: a SQL function with a SET clause
-- is parsed and planned again on every call.
CREATE OR REPLACE FUNCTION df._new_id() RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN right(gen_random_uuid()::text, 8);
END
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

-- ---------------------------------------------------------------------------------------------
-- HTTP steps
-- ---------------------------------------------------------------------------------------------

-- Why an HTTP or HTTP_MULTIPART node's config cannot be used, or NULL: the builders (df.http,
-- df.http_multipart) and df.start's graph walk (df._node_problem) share it, so a hand-written
-- graph meets the same checks as a built one. The worker checks the config again after
-- substitution (io.pgdurable.graph.http.HttpConfig), with the same limits.
--
-- The config: {"url": text, "method": text, "body": text or null, "headers": object of text or
-- null, "timeout_seconds": integer} for HTTP; "parts" (an array of part objects) instead of
-- "body" for HTTP_MULTIPART. A url that starts with a placeholder ({name} or $name) has its scheme
-- checked only when it runs.
CREATE OR REPLACE FUNCTION df._http_problem(p_type text, p_config json) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_url      constant integer := 8192;
    c_max_timeout  constant integer := 3600;
    c_max_headers  constant integer := 100;
    c_max_parts    constant integer := 100;
    -- Framing headers the worker writes itself: a request may not set them.
    c_reserved     constant text[] := ARRAY['host', 'content-length', 'transfer-encoding', 'connection',
                                            'upgrade', 'expect', 'te', 'trailer', 'keep-alive'];
    v_url     text;
    v_method  text;
    v_timeout text;
    v_key     text;
    v_value   json;
    v_part    json;
    v_index   integer := 0;
    v_data    text;
BEGIN
    IF json_typeof(p_config) IS DISTINCT FROM 'object' THEN
        RETURN format('%s query must be a JSON object {"url":...,"method":...,%s"headers":...,"timeout_seconds":...}',
                      p_type, CASE WHEN p_type = 'HTTP' THEN '"body":...,' ELSE '"parts":[...],' END);
    END IF;

    IF json_typeof(p_config -> 'url') IS DISTINCT FROM 'string' THEN
        RETURN format('%s config needs "url", a string', p_type);
    END IF;
    v_url := p_config ->> 'url';
    IF length(v_url) > c_max_url THEN
        RETURN format('url is %s characters long; the limit is %s characters', length(v_url), c_max_url);
    END IF;
    IF v_url ~ '[\x01-\x20\x7f]' THEN
        RETURN format('url must not contain spaces or control characters, got %s', to_json(v_url)::text);
    END IF;
    IF left(v_url, 1) NOT IN ('{', '$') AND v_url !~* '^https?://[^/?#@]+([/?#]|$)' THEN
        RETURN format('url must be an http:// or https:// URL with a host, got ''%s''', v_url);
    END IF;

    IF json_typeof(p_config -> 'method') IS DISTINCT FROM 'string' THEN
        RETURN format('%s config needs "method", a string', p_type);
    END IF;
    v_method := p_config ->> 'method';
    IF p_type = 'HTTP' AND v_method NOT IN ('GET', 'POST', 'PUT', 'DELETE', 'PATCH') THEN
        RETURN format('Invalid HTTP method: %s. Must be GET, POST, PUT, DELETE, or PATCH', v_method);
    ELSIF p_type = 'HTTP_MULTIPART' AND v_method NOT IN ('POST', 'PUT', 'PATCH') THEN
        RETURN format('Invalid HTTP method for multipart: %s. Must be POST, PUT, or PATCH', v_method);
    END IF;

    IF coalesce(json_typeof(p_config -> 'timeout_seconds'), 'null') <> 'null' THEN
        v_timeout := btrim((p_config -> 'timeout_seconds')::text);
        IF v_timeout !~ '^-?[0-9]{1,18}$' THEN
            RETURN format('timeout_seconds must be a whole number of seconds, got %s', v_timeout);
        END IF;
        IF v_timeout::numeric <= 0 THEN
            RETURN 'Timeout must be positive';
        END IF;
        IF v_timeout::numeric > c_max_timeout THEN
            RETURN format('timeout_seconds must be at most %s (one hour), got %s', c_max_timeout, v_timeout);
        END IF;
    END IF;

    IF p_type = 'HTTP' AND coalesce(json_typeof(p_config -> 'body'), 'null') NOT IN ('null', 'string') THEN
        RETURN format('HTTP body must be text or null, got %s', df._json_kind(p_config -> 'body'));
    END IF;

    IF coalesce(json_typeof(p_config -> 'headers'), 'null') <> 'null' THEN
        IF json_typeof(p_config -> 'headers') <> 'object' THEN
            RETURN format('headers must be a JSON object of text values, got %s', df._json_kind(p_config -> 'headers'));
        END IF;
        IF (SELECT count(*) FROM json_each(p_config -> 'headers')) > c_max_headers THEN
            RETURN format('headers has %s entries; the limit is %s headers',
                          (SELECT count(*) FROM json_each(p_config -> 'headers')), c_max_headers);
        END IF;
        FOR v_key, v_value IN SELECT e.key, e.value FROM json_each(p_config -> 'headers') e LOOP
            IF v_key !~ '^[!#$%&''*+.^_`|~0-9A-Za-z-]+$' THEN
                RETURN format('header name %s is not a valid HTTP header name', to_json(v_key)::text);
            END IF;
            IF lower(v_key) = ANY (c_reserved) THEN
                RETURN format('header %s is set by pg_durable itself and may not be given', to_json(v_key)::text);
            END IF;
            IF json_typeof(v_value) <> 'string' THEN
                RETURN format('header %s must have a text value, got %s', to_json(v_key)::text, df._json_kind(v_value));
            END IF;
            IF (v_value #>> '{}') ~ '[\x01-\x08\x0a-\x1f\x7f]' THEN
                RETURN format('header %s has a control character (such as a line break) in its value',
                              to_json(v_key)::text);
            END IF;
        END LOOP;
    END IF;

    IF p_type = 'HTTP_MULTIPART' THEN
        IF json_typeof(p_config -> 'parts') IS DISTINCT FROM 'array' THEN
            RETURN 'parts must be a JSON array of part objects';
        END IF;
        IF json_array_length(p_config -> 'parts') = 0 THEN
            RETURN 'parts must contain at least one part';
        END IF;
        IF json_array_length(p_config -> 'parts') > c_max_parts THEN
            RETURN format('parts has %s entries; the limit is %s parts', json_array_length(p_config -> 'parts'), c_max_parts);
        END IF;
        FOR v_part IN SELECT a.value FROM json_array_elements(p_config -> 'parts') a LOOP
            IF json_typeof(v_part) <> 'object' THEN
                RETURN format('parts[%s] must be an object {"name":...,"data_b64":...}, got %s', v_index, df._json_kind(v_part));
            END IF;
            IF json_typeof(v_part -> 'name') IS DISTINCT FROM 'string' OR v_part ->> 'name' = '' THEN
                RETURN format('parts[%s] needs "name", a non-empty string', v_index);
            END IF;
            IF json_typeof(v_part -> 'data_b64') IS DISTINCT FROM 'string' THEN
                RETURN format('parts[%s] (%s) needs "data_b64", a base64 string', v_index, to_json(v_part ->> 'name')::text);
            END IF;
            FOREACH v_key IN ARRAY ARRAY['filename', 'content_type'] LOOP
                IF coalesce(json_typeof(v_part -> v_key), 'null') NOT IN ('null', 'string') THEN
                    RETURN format('parts[%s] (%s): "%s" must be a string', v_index, to_json(v_part ->> 'name')::text, v_key);
                END IF;
                IF (v_part ->> v_key) ~ '[\x01-\x1f\x7f"]' THEN
                    RETURN format('parts[%s] (%s): "%s" may not contain double quotes or control characters',
                                  v_index, to_json(v_part ->> 'name')::text, v_key);
                END IF;
            END LOOP;
            IF (v_part ->> 'name') ~ '[\x01-\x1f\x7f"]' THEN
                RETURN format('parts[%s]: "name" may not contain double quotes or control characters, got %s',
                              v_index, to_json(v_part ->> 'name')::text);
            END IF;
            -- data_b64 is base64 (whitespace allowed, as encode(bytea, 'base64') wraps its lines),
            -- or a single placeholder that stands for the whole value.
            v_data := btrim(v_part ->> 'data_b64', E' \t\n\r');
            IF v_data ~ '[$({})]' THEN
                IF v_data !~ '^(\$[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\??|\{[A-Za-z_][A-Za-z0-9_]*\})$' THEN
                    RETURN format('parts[%s] (%s): data_b64 may hold base64 or one placeholder standing for the whole value ($name, $name.col or {name}), not a placeholder mixed with other text',
                                  v_index, to_json(v_part ->> 'name')::text);
                END IF;
            ELSIF regexp_replace(v_data, '\s', '', 'g') !~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' THEN
                RETURN format('parts[%s] (%s): data_b64 is not valid base64', v_index, to_json(v_part ->> 'name')::text);
            END IF;
            v_index := v_index + 1;
        END LOOP;
    END IF;
    RETURN NULL;
END
$fn$;

-- Raises unless the role that submitted instance p_instance_id may run its HTTP steps: an
-- HTTP node needs EXECUTE on df.http, an HTTP_MULTIPART node EXECUTE on df.http_multipart, as
-- the builders do. A graph written by hand does not call the builders, so df._launch checks the
-- stored nodes; the worker checks again before each request (a grant may be revoked meanwhile).
CREATE OR REPLACE FUNCTION df._check_http_grant(p_instance_id text, p_role oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_type text;
    v_fn   text;
BEGIN
    FOR v_type IN
        SELECT DISTINCT n.node_type FROM df.nodes n
         WHERE n.instance_id = p_instance_id AND n.node_type IN ('HTTP', 'HTTP_MULTIPART')
         ORDER BY 1
    LOOP
        v_fn := CASE v_type WHEN 'HTTP' THEN 'df.http(text,text,text,jsonb,integer)'
                            ELSE 'df.http_multipart(text,text,jsonb,jsonb,integer)' END;
        IF NOT has_function_privilege(p_role, v_fn::regprocedure, 'EXECUTE') THEN
            RAISE EXCEPTION 'permission denied: role "%" may not run % steps: it lacks EXECUTE on %',
                (SELECT r.rolname FROM pg_roles r WHERE r.oid = p_role), v_type, v_fn
                USING ERRCODE = '42501',
                      HINT = format('An administrator can allow it with SELECT df.grant_usage(%L, include_http => true).',
                                    (SELECT r.rolname FROM pg_roles r WHERE r.oid = p_role));
        END IF;
    END LOOP;
END
$fn$;
