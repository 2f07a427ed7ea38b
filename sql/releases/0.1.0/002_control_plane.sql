-- Control plane (schema df): tables, row-level security, the graph builders and operators,
-- df.start and the instance control functions, per-role variables, privilege helpers.
--
-- Everything here is SQL and PL/pgSQL: application backends never start a JVM. The API is
-- SQL-compatible with the original pg_durable extension (names, argument names, defaults,
-- strictness, the graph JSON format and error messages).
--
-- Security model. Application roles get schema USAGE and narrow table privileges through
-- df.grant_usage(); row-level security confines them to their own rows. Public functions are
-- SECURITY INVOKER. The steps a role may not take directly (starting and cancelling engine
-- instances) are SECURITY DEFINER helpers named df._*, which re-check that the login role may
-- act for the instance's submitter, so calling a helper directly allows nothing the public
-- wrapper does not. Every df._* function has PUBLIC EXECUTE revoked; df.grant_usage() grants
-- the ones listed in df._usage_functions.

-- Names in this script's DDL (defaults, checks, policies, the view) resolve against pg_catalog
-- only, whatever schemas the installing session's search_path holds; a look-alike operator in a
-- writable schema must not end up inside a policy. The session's setting is restored at the end.
SELECT set_config('pg_durable.installer_search_path', current_setting('search_path'), true);
SELECT set_config('search_path', 'pg_catalog, pg_temp', true);

CREATE SCHEMA df;
REVOKE ALL ON SCHEMA df FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE df.instances (
    id           varchar(8) PRIMARY KEY CONSTRAINT instances_id_format_chk CHECK (id ~ '^[0-9a-f]{8}$'),
    label        text,
    root_node    varchar(8) NOT NULL CONSTRAINT instances_root_node_format_chk CHECK (root_node ~ '^[0-9a-f]{8}$'),
    status       text NOT NULL DEFAULT 'pending'
                 CONSTRAINT instances_status_chk
                 CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    submitted_by regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    database     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Set on every terminal status (completed, failed, cancelled): reconciliation ages
    -- instances by coalesce(completed_at, created_at), never by updated_at.
    completed_at timestamptz,
    CONSTRAINT instances_identity_key UNIQUE (id, submitted_by)
);

COMMENT ON COLUMN df.instances.submitted_by IS
    'Effective role (current_user) at df.start(); SQL steps run on a connection authenticated as this role';

CREATE TABLE df.nodes (
    id             varchar(8) NOT NULL CONSTRAINT nodes_id_format_chk CHECK (id ~ '^[0-9a-f]{8}$'),
    instance_id    varchar(8) NOT NULL,
    node_type      text NOT NULL
                   CONSTRAINT nodes_node_type_chk
                   CHECK (node_type IN ('SQL', 'THEN', 'IF', 'JOIN', 'LOOP', 'BREAK', 'RACE', 'SLEEP',
                                        'WAIT_SCHEDULE', 'HTTP', 'HTTP_MULTIPART', 'SIGNAL')),
    query          text,
    result_name    text CONSTRAINT nodes_result_name_chk
                   CHECK (result_name IS NULL OR result_name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    left_node      varchar(8) CONSTRAINT nodes_left_node_format_chk
                   CHECK (left_node IS NULL OR left_node ~ '^[0-9a-f]{8}$'),
    right_node     varchar(8) CONSTRAINT nodes_right_node_format_chk
                   CHECK (right_node IS NULL OR right_node ~ '^[0-9a-f]{8}$'),
    status         text NOT NULL DEFAULT 'pending'
                   CONSTRAINT nodes_status_chk CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    result         jsonb,
    error          text,
    submitted_by   regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    database       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    status_details jsonb,
    CONSTRAINT nodes_pkey PRIMARY KEY (instance_id, id),
    CONSTRAINT nodes_result_status_chk CHECK (result IS NULL OR status IN ('completed', 'failed')),
    CONSTRAINT nodes_structure_chk CHECK (
        CASE
            WHEN node_type IN ('SQL', 'SLEEP', 'WAIT_SCHEDULE', 'BREAK', 'HTTP', 'HTTP_MULTIPART', 'SIGNAL')
                THEN left_node IS NULL AND right_node IS NULL AND query IS NOT NULL
            WHEN node_type = 'THEN'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NULL
            WHEN node_type = 'IF'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NOT NULL
            WHEN node_type = 'LOOP'
                THEN left_node IS NOT NULL AND right_node IS NULL
            WHEN node_type = 'JOIN'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL
            WHEN node_type = 'RACE'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NULL
            ELSE false
        END),
    -- The node belongs to the instance and to the same submitter; deleting the instance
    -- deletes its nodes.
    CONSTRAINT nodes_instance_identity_fkey FOREIGN KEY (instance_id, submitted_by)
        REFERENCES df.instances (id, submitted_by) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    -- Children live in the same instance. Deferred: df.start inserts parents before children.
    CONSTRAINT nodes_left_node_same_instance_fkey FOREIGN KEY (instance_id, left_node)
        REFERENCES df.nodes (instance_id, id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT nodes_right_node_same_instance_fkey FOREIGN KEY (instance_id, right_node)
        REFERENCES df.nodes (instance_id, id) DEFERRABLE INITIALLY DEFERRED
);

COMMENT ON COLUMN df.nodes.status_details IS
    'Written by the worker: {"execution_id": "<orchestration id>::<generation>"} of the last transition';

ALTER TABLE df.instances
    ADD CONSTRAINT instances_root_node_same_instance_fkey FOREIGN KEY (id, root_node)
        REFERENCES df.nodes (instance_id, id) DEFERRABLE INITIALLY DEFERRED;

-- Listing, newest first, with id as the keyset tiebreaker (df.list_instances).
CREATE INDEX idx_instances_status ON df.instances (status, created_at DESC, id);
CREATE INDEX idx_instances_created_at ON df.instances (created_at DESC, id);
CREATE INDEX idx_instances_label ON df.instances (label, created_at DESC, id) WHERE label IS NOT NULL;
-- Reconciliation: terminal instances by age.
CREATE INDEX idx_instances_terminal_age ON df.instances ((coalesce(completed_at, created_at)), id)
    WHERE status IN ('completed', 'failed', 'cancelled');

-- Per-role workflow variables, snapshotted by df.start.
CREATE TABLE df.vars (
    name  text NOT NULL,
    value text,
    owner regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    CONSTRAINT vars_pkey PRIMARY KEY (owner, name)
);

-- Row-level security: a role sees and changes only its own rows. Not forced, so the schema
-- owner (the worker's login) and superusers see everything.
ALTER TABLE df.instances ENABLE ROW LEVEL SECURITY;
CREATE POLICY instances_user_isolation ON df.instances FOR ALL
    USING (submitted_by = quote_ident(current_user)::regrole)
    WITH CHECK (submitted_by = quote_ident(current_user)::regrole);

ALTER TABLE df.nodes ENABLE ROW LEVEL SECURITY;
CREATE POLICY nodes_user_isolation ON df.nodes FOR ALL
    USING (submitted_by = quote_ident(current_user)::regrole)
    WITH CHECK (submitted_by = quote_ident(current_user)::regrole);

ALTER TABLE df.vars ENABLE ROW LEVEL SECURITY;
CREATE POLICY vars_user_isolation ON df.vars FOR ALL
    USING (owner = quote_ident(current_user)::regrole)
    WITH CHECK (owner = quote_ident(current_user)::regrole);

REVOKE ALL ON df.instances, df.nodes, df.vars FROM PUBLIC;

-- Worker heartbeats, for administrators.
CREATE VIEW df.workers AS
    SELECT w.id, w.host, w.pid, w.mode, w.started_at, w.last_seen_at
      FROM df_engine.workers w;
REVOKE ALL ON df.workers FROM PUBLIC;

-- The df._* functions that application roles must be able to execute, because a public
-- SECURITY INVOKER function calls them. df.grant_usage() grants EXECUTE on each listed
-- function that exists, df.revoke_usage() revokes it. Later migrations add their own rows.
CREATE TABLE df._usage_functions (
    signature text PRIMARY KEY   -- as accepted by to_regprocedure(), e.g. 'df._launch(text,jsonb)'
);
REVOKE ALL ON df._usage_functions FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Graph values ("durable futures")
--
-- A graph value is the JSON text of one node object; children are embedded objects. Output
-- is compact, with the fields in this order: node_type, left_node, right_node,
-- condition_node, extra_nodes, query, result_name; absent fields are omitted. The top level of
-- every operand is re-serialised, children are passed through byte for byte.
-- ---------------------------------------------------------------------------------------------

-- The helpers on the builders' hot path have no SET search_path clause: switching it costs more
-- than their work, and it keeps the SQL ones inlinable. Every function that calls them pins
-- search_path = pg_catalog, pg_temp itself.

-- One node, decoded. Children are kept as their raw JSON text.
CREATE TYPE df._node AS (
    node_type      text,
    left_node      text,
    right_node     text,
    condition_node text,
    extra_nodes    text[],
    query          text,
    result_name    text,
    problem        text    -- why the object is not a well-formed node; NULL when it is
);

CREATE FUNCTION df._node_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT ARRAY['SQL', 'THEN', 'IF', 'JOIN', 'LOOP', 'BREAK', 'RACE', 'SLEEP', 'WAIT_SCHEDULE',
                 'HTTP', 'HTTP_MULTIPART', 'SIGNAL']
$fn$;

-- The text as JSON, or NULL when it is not valid JSON.
CREATE FUNCTION df._try_json(p_text text) RETURNS json
LANGUAGE plpgsql IMMUTABLE STRICT
AS $fn$
BEGIN
    RETURN p_text::json;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$fn$;

-- Describes a JSON value the way the original's decoder words a type mismatch.
CREATE FUNCTION df._json_kind(p_value json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $fn$
    SELECT CASE json_typeof(p_value)
               WHEN 'null' THEN 'null'
               WHEN 'boolean' THEN format('boolean `%s`', btrim(p_value::text))
               WHEN 'number' THEN
                   CASE WHEN btrim(p_value::text) ~ '^-?[0-9]+$'
                        THEN format('integer `%s`', btrim(p_value::text))
                        ELSE format('floating point `%s`', btrim(p_value::text)) END
               WHEN 'string' THEN format('string %s', p_value::text)
               WHEN 'array' THEN 'sequence'
               ELSE 'map'
           END
$fn$;

-- Decodes a JSON object as a node. Unknown keys are ignored; a missing or non-string
-- node_type leaves node_type NULL (with a problem); malformed fields set problem.
CREATE FUNCTION df._decode_node(p_object json) RETURNS df._node
LANGUAGE plpgsql IMMUTABLE STRICT
AS $fn$
DECLARE
    v_node    df._node;
    v_seen    text[] := '{}';
    v_key     text;
    v_value   json;
    v_kind    text;
    v_problem text;
    v_objects boolean;
BEGIN
    v_node.extra_nodes := '{}';
    FOR v_key, v_value IN SELECT e.key, e.value FROM json_each(p_object) e LOOP
        CONTINUE WHEN NOT v_key = ANY (ARRAY['node_type', 'left_node', 'right_node', 'condition_node',
                                             'extra_nodes', 'query', 'result_name']);
        IF v_key = ANY (v_seen) THEN
            v_problem := coalesce(v_problem, format('duplicate field `%s`', v_key));
            CONTINUE;
        END IF;
        v_seen := v_seen || v_key;
        v_kind := json_typeof(v_value);
        CASE v_key
            WHEN 'node_type' THEN
                IF v_kind = 'string' THEN
                    v_node.node_type := v_value #>> '{}';
                ELSE
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a string', df._json_kind(v_value)));
                END IF;
            WHEN 'left_node', 'right_node' THEN
                IF v_kind = 'object' THEN
                    IF v_key = 'left_node' THEN
                        v_node.left_node := v_value::text;
                    ELSE
                        v_node.right_node := v_value::text;
                    END IF;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem, 'Durofut children must be JSON objects');
                END IF;
            WHEN 'condition_node' THEN
                IF v_kind = 'object' THEN
                    v_node.condition_node := v_value::text;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem, 'condition_node must be a Durofut JSON object');
                END IF;
            WHEN 'extra_nodes' THEN
                IF v_kind = 'array' THEN
                    SELECT coalesce(array_agg(a.value::text ORDER BY a.ord), '{}'),
                           bool_and(json_typeof(a.value) = 'object')
                      INTO v_node.extra_nodes, v_objects
                      FROM json_array_elements(v_value) WITH ORDINALITY AS a(value, ord);
                    IF NOT v_objects THEN
                        v_node.extra_nodes := '{}';
                        v_problem := coalesce(v_problem, 'extra_nodes entries must be Durofut JSON objects');
                    END IF;
                ELSE
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a sequence', df._json_kind(v_value)));
                END IF;
            WHEN 'query', 'result_name' THEN
                IF v_kind = 'string' THEN
                    IF v_key = 'query' THEN
                        v_node.query := v_value #>> '{}';
                    ELSE
                        v_node.result_name := v_value #>> '{}';
                    END IF;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a string', df._json_kind(v_value)));
                END IF;
        END CASE;
    END LOOP;
    IF NOT 'node_type' = ANY (v_seen) THEN
        v_problem := coalesce(v_problem, 'missing field `node_type`');
    END IF;
    v_node.problem := v_problem;
    RETURN v_node;
END
$fn$;

-- The node's canonical compact JSON text.
CREATE FUNCTION df._render(p_node df._node) RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT '{"node_type":' || to_json(p_node.node_type)::text
        || coalesce(',"left_node":' || p_node.left_node, '')
        || coalesce(',"right_node":' || p_node.right_node, '')
        || coalesce(',"condition_node":' || p_node.condition_node, '')
        || CASE WHEN coalesce(cardinality(p_node.extra_nodes), 0) > 0
                THEN ',"extra_nodes":[' || array_to_string(p_node.extra_nodes, ',') || ']'
                ELSE '' END
        || coalesce(',"query":' || to_json(p_node.query)::text, '')
        || coalesce(',"result_name":' || to_json(p_node.result_name)::text, '')
        || '}'
$fn$;

-- A leaf node with a query.
CREATE FUNCTION df._leaf(p_type text, p_query text) RETURNS df._node
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT ROW(p_type, NULL, NULL, NULL, '{}'::text[], p_query, NULL, NULL)::df._node
$fn$;

-- Records that a function whose plain-text result must not become a workflow step
-- (df.setvar, df.unsetvar, df.clearvars, df.await_instance) returned p_result in this
-- statement, so that a builder handed that very text can say what went wrong.
CREATE FUNCTION df._mark_non_future(p_function text, p_result text) RETURNS void
LANGUAGE sql
AS $fn$
    SELECT set_config('df.non_future_helper',
                      p_function || E'\n'
                          || (extract(epoch FROM statement_timestamp()) * 1000000)::bigint::text
                          || E'\n' || p_result,
                      true)
$fn$;

-- The helper whose result p_text is, when a marked helper returned exactly this text earlier
-- in the current statement; else NULL.
CREATE FUNCTION df._non_future_source(p_text text) RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_marker text[] := string_to_array(current_setting('df.non_future_helper', true), E'\n');
BEGIN
    IF cardinality(v_marker) = 3
       AND v_marker[2] = (extract(epoch FROM statement_timestamp()) * 1000000)::bigint::text
       AND v_marker[3] = p_text THEN
        RETURN v_marker[1];
    END IF;
    RETURN NULL;
END
$fn$;

-- Auto-wrap ("ensure"): a JSON object with a valid string node_type is that node; one with a
-- string node_type that does not decode is an error; anything else (plain SQL, other JSON, an
-- unknown node_type) becomes a SQL step whose query is the text verbatim.
CREATE FUNCTION df._ensure(p_text text) RETURNS df._node
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_json   json;
    v_node   df._node;
    v_helper text;
BEGIN
    IF ltrim(p_text, E' \t\n\r') LIKE '{%' THEN
        BEGIN
            v_json := df._try_json(p_text);
        EXCEPTION WHEN statement_too_complex THEN
            RAISE EXCEPTION 'Invalid Durofut JSON: nested too deeply (a graph may be at most 256 levels deep)'
                USING ERRCODE = '22023';
        END;
        IF json_typeof(v_json) = 'object' THEN
            v_node := df._decode_node(v_json);
            IF v_node.node_type IS NOT NULL THEN
                IF v_node.problem IS NOT NULL THEN
                    RAISE EXCEPTION 'Invalid Durofut JSON: failed to deserialize workflow step: %', v_node.problem
                        USING ERRCODE = '22023';
                END IF;
                IF v_node.node_type = ANY (df._node_types()) THEN
                    RETURN v_node;
                END IF;
            END IF;
        END IF;
    ELSE
        v_helper := df._non_future_source(p_text);
        IF v_helper IS NOT NULL THEN
            RAISE EXCEPTION '% cannot be used as a workflow step. Call % before df.start().', v_helper, v_helper
                USING ERRCODE = '22023';
        END IF;
    END IF;
    RETURN df._leaf('SQL', p_text);
END
$fn$;

-- The operand as canonical node JSON text.
CREATE FUNCTION df._operand(p_text text) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT df._render(df._ensure(p_text))
$fn$;

-- Why a result name is unusable, or NULL.
CREATE FUNCTION df._result_name_problem(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $fn$
    SELECT CASE
               WHEN p_name = '' THEN 'result name cannot be empty'
               WHEN p_name !~ '^[A-Za-z_][A-Za-z0-9_]*$'
                   THEN format('result name ''%s'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*', p_name)
           END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Cron expressions: five fields (minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
-- JAN-DEC, day-of-week 0-7 or SUN-SAT, where 0 and 7 are Sunday). Each field is a comma
-- list of '*', a value, a range a-b, or one of those with a step: '*/n', 'a-b/n', 'a/n'.
-- Names are case-insensitive; SUN is 0, as in Vixie cron and pg_cron (SUN-SAT is the whole week;
-- a range ending on Sunday is written with 7). When day-of-week is '*', a day of month that exists
-- in none of the chosen months is refused: it would never fire. The worker's parser
-- (io.pgdurable.graph.CronSchedule) accepts exactly the same expressions; CronAgreementTest checks.
-- ---------------------------------------------------------------------------------------------

-- The value of one cron token in a field, or NULL when it is not a number or a name.
CREATE FUNCTION df._cron_value(p_token text, p_field integer, p_in_range boolean) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_pos integer;
BEGIN
    IF p_token ~ '^[0-9]{1,9}$' THEN
        RETURN p_token::integer;
    END IF;
    IF p_field = 4 THEN
        v_pos := array_position(ARRAY['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP',
                                      'OCT', 'NOV', 'DEC'], upper(p_token));
        RETURN v_pos;
    ELSIF p_field = 5 THEN
        -- As in Vixie cron and pg_cron, SUN is 0 (only the number 7 also means Sunday), so
        -- SUN-SAT is the whole week and SAT-SUN runs backwards.
        v_pos := array_position(ARRAY['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], upper(p_token));
        RETURN v_pos - 1;
    END IF;
    RETURN NULL;
END
$fn$;

-- Why the cron expression is not acceptable, naming the field; NULL when it is.
CREATE FUNCTION df._cron_problem(p_expr text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_names constant text[] := ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
    c_min   constant integer[] := ARRAY[0, 0, 1, 1, 0];
    c_max   constant integer[] := ARRAY[59, 23, 31, 12, 7];
    v_trimmed text := btrim(p_expr, E' \t\n\r');
    v_fields  text[];
    v_field   text;
    v_item    text;
    v_parts   text[];
    v_bounds  text[];
    v_token   text;
    v_lo      integer;
    v_hi      integer;
    v_step    integer;
    v_name    text;
BEGIN
    v_fields := CASE WHEN v_trimmed = '' THEN '{}'::text[] ELSE regexp_split_to_array(v_trimmed, '\s+') END;
    IF cardinality(v_fields) <> 5 THEN
        RETURN format('expected 5 fields (minute hour day-of-month month day-of-week), got %s',
                      cardinality(v_fields));
    END IF;
    FOR f IN 1..5 LOOP
        v_field := v_fields[f];
        v_name := c_names[f] || ' field';
        FOREACH v_item IN ARRAY string_to_array(v_field, ',') LOOP
            IF v_item = '' THEN
                RETURN format('%s: empty list element in ''%s''', v_name, v_field);
            END IF;
            v_parts := string_to_array(v_item, '/');
            IF cardinality(v_parts) > 2 THEN
                RETURN format('%s: more than one step in ''%s''', v_name, v_item);
            END IF;
            IF cardinality(v_parts) = 2 THEN
                IF v_parts[2] !~ '^[0-9]{1,9}$' THEN
                    RETURN format('%s: step ''%s'' in ''%s'' is not a number', v_name, v_parts[2], v_item);
                END IF;
                v_step := v_parts[2]::integer;
                IF v_step < 1 OR v_step > c_max[f] THEN
                    RETURN format('%s: step %s in ''%s'' is out of range 1-%s', v_name, v_step, v_item, c_max[f]);
                END IF;
            END IF;
            CONTINUE WHEN v_parts[1] = '*';
            IF v_parts[1] = '' THEN
                RETURN format('%s: missing value before the step in ''%s''', v_name, v_item);
            END IF;
            v_bounds := string_to_array(v_parts[1], '-');
            IF cardinality(v_bounds) > 2 OR '' = ANY (v_bounds) THEN
                RETURN format('%s: invalid range ''%s''', v_name, v_parts[1]);
            END IF;
            FOR b IN 1..cardinality(v_bounds) LOOP
                v_token := v_bounds[b];
                v_hi := df._cron_value(v_token, f, cardinality(v_bounds) = 2);
                IF v_hi IS NULL THEN
                    RETURN format('%s: invalid value ''%s''', v_name, v_token);
                END IF;
                IF v_hi < c_min[f] OR v_hi > c_max[f] THEN
                    RETURN format('%s: value %s is out of range %s-%s', v_name, v_hi, c_min[f], c_max[f]);
                END IF;
                IF b = 1 THEN
                    v_lo := v_hi;
                ELSIF v_lo > v_hi THEN
                    RETURN format('%s: range ''%s'' starts after it ends', v_name, v_parts[1])
                        || CASE WHEN f = 5 AND upper(v_bounds[2]) = 'SUN' THEN ' (SUN is 0; write 7 for a range ending on Sunday)' ELSE '' END;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    -- Day-of-month and month restrict together when day-of-week is '*' (as in pg_cron): a day
    -- that exists in none of the months can never come.
    IF v_fields[5] LIKE '*%' AND v_fields[3] NOT LIKE '*%' AND NOT EXISTS (
            SELECT 1
              FROM unnest(df._cron_expand(v_fields[3], 3)) AS d(day),
                   unnest(df._cron_expand(v_fields[4], 4)) AS m(month)
             WHERE d.day <= (ARRAY[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[m.month]) THEN
        RETURN format('day-of-month ''%s'' never occurs in month ''%s'', so it never fires', v_fields[3], v_fields[4]);
    END IF;
    RETURN NULL;
END
$fn$;

-- The values a validated cron field stands for.
CREATE FUNCTION df._cron_expand(p_field text, p_f integer) RETURNS integer[]
LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_min  constant integer[] := ARRAY[0, 0, 1, 1, 0];
    c_max  constant integer[] := ARRAY[59, 23, 31, 12, 7];
    v_out  integer[] := '{}';
    v_item text;
    v_parts text[];
    v_bounds text[];
    v_lo integer;
    v_hi integer;
    v_step integer;
BEGIN
    FOREACH v_item IN ARRAY string_to_array(p_field, ',') LOOP
        v_parts := string_to_array(v_item, '/');
        v_step := CASE WHEN cardinality(v_parts) = 2 THEN v_parts[2]::integer ELSE 1 END;
        IF v_parts[1] = '*' THEN
            v_lo := c_min[p_f];
            v_hi := c_max[p_f];
        ELSE
            v_bounds := string_to_array(v_parts[1], '-');
            v_lo := df._cron_value(v_bounds[1], p_f, cardinality(v_bounds) = 2);
            v_hi := CASE WHEN cardinality(v_bounds) = 2 THEN df._cron_value(v_bounds[2], p_f, true)
                         WHEN cardinality(v_parts) = 2 THEN c_max[p_f]
                         ELSE v_lo END;
        END IF;
        v_out := v_out || ARRAY(SELECT generate_series(v_lo, v_hi, v_step));
    END LOOP;
    RETURN v_out;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Builders (pure: they read no table)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.sql(query text) RETURNS text
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df._render(df._leaf('SQL', $1))
$fn$;

CREATE FUNCTION df.seq(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._render(ROW('THEN', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df."as"(fut text, name text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_problem text := df._result_name_problem(name);
    v_node df._node;
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'df.as: %', v_problem USING ERRCODE = '22023';
    END IF;
    v_node := df._ensure(fut);
    v_node.result_name := name;
    RETURN df._render(v_node);
END
$fn$;

CREATE FUNCTION df."join"(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._render(ROW('JOIN', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df.join3(a text, b text, c text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
    v_extra text := df._operand(c);
BEGIN
    RETURN df._render(ROW('JOIN', v_left, v_right, NULL, ARRAY[v_extra], NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df.race(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._render(ROW('RACE', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df."if"(condition text, then_branch text, else_branch text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_condition text := df._operand($1);
    v_then text := df._operand($2);
    v_else text := df._operand($3);
BEGIN
    RETURN df._render(ROW('IF', v_then, v_else, v_condition, '{}', NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df.if_rows(result_name text, then_branch text, else_branch text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_then text := df._operand($2);
    v_else text := df._operand($3);
BEGIN
    RETURN df._render(ROW('IF', v_then, v_else, NULL, '{}',
        '{"condition_type":"result_has_rows","result_name":' || to_json($1)::text || '}',
        NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df."loop"(body text, condition text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_body text;
    v_condition text;
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'df.loop(): body must not be NULL' USING ERRCODE = '22004';
    END IF;
    v_body := df._operand($1);
    IF $2 IS NOT NULL THEN
        v_condition := df._operand($2);
    END IF;
    RETURN df._render(ROW('LOOP', v_body, NULL, v_condition, '{}', NULL, NULL, NULL)::df._node);
END
$fn$;

CREATE FUNCTION df."break"(value text DEFAULT NULL) RETURNS text
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df._render(df._leaf('BREAK', '{"break_value":' || coalesce(to_json($1)::text, 'null') || '}'))
$fn$;

CREATE FUNCTION df.sleep(seconds bigint) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF seconds < 0 THEN
        RAISE EXCEPTION 'Sleep duration must be non-negative' USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SLEEP', seconds::text));
END
$fn$;

CREATE FUNCTION df.wait_for_schedule(cron_expr text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_problem text := df._cron_problem(cron_expr);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'Invalid cron expression ''%'': %', cron_expr, v_problem USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('WAIT_SCHEDULE', '{"cron_expr":' || to_json(cron_expr)::text || '}'));
END
$fn$;

CREATE FUNCTION df.wait_for_signal(name text, timeout_seconds integer DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'df.wait_for_signal(): name must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF name = '' THEN
        RAISE EXCEPTION 'Signal name cannot be empty' USING ERRCODE = '22023';
    END IF;
    IF timeout_seconds <= 0 THEN
        RAISE EXCEPTION 'Timeout must be positive' USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SIGNAL', '{"signal_name":' || to_json(name)::text
        || ',"timeout_seconds":' || coalesce(timeout_seconds::text, 'null') || '}'));
END
$fn$;

-- HTTP steps arrive in a later release; the functions exist so that the API and its
-- privileges are in place.
CREATE FUNCTION df.http(url text, method text DEFAULT 'POST', body text DEFAULT NULL,
                        headers jsonb DEFAULT NULL, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'df.http() is not supported by this build' USING ERRCODE = '0A000';
END
$fn$;

CREATE FUNCTION df.http_multipart(url text, method text DEFAULT 'POST', parts jsonb DEFAULT NULL,
                                  headers jsonb DEFAULT NULL, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'df.http_multipart() is not supported by this build' USING ERRCODE = '0A000';
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Operators
--
-- They are created in pg_catalog, as the original extension's were, so that every role
-- resolves them whatever its search_path. Consequence: pg_dump does not dump objects in
-- pg_catalog, so after restoring a dump into a fresh database the operators must be
-- re-created (the functions behind them are in df and are restored).
--
-- All of them share PostgreSQL's single precedence for user-defined operators and group left
-- to right: 'a' ~> 'b' |=> 'n' names the sequence, @> 'a' ~> 'b' loops only 'a', and
-- c ?> t ~> u !> e fails (parenthesise: c ?> (t ~> u) !> e).
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.as_op(fut text, name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, df, pg_temp
AS $fn$
    SELECT df.as(fut, name);
$fn$;

-- cond ?> then: a partial IF, completed by !>. Operands stay text until then.
CREATE FUNCTION df.if_then_op(condition text, then_branch text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN jsonb_build_object('_partial_if', true, 'condition', condition, 'then_branch', then_branch)::text;
END
$fn$;

CREATE FUNCTION df.if_else_op(partial_if text, else_branch text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_partial jsonb := partial_if::jsonb;
BEGIN
    IF v_partial ->> '_partial_if' IS NULL THEN
        RAISE EXCEPTION 'Invalid if-then-else: left side of !> must be a ?> expression' USING ERRCODE = '22023';
    END IF;
    RETURN df.if(v_partial ->> 'condition', v_partial ->> 'then_branch', else_branch);
END
$fn$;

CREATE FUNCTION df.loop_prefix_op(body text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, df, pg_temp
AS $fn$
    SELECT df.loop(body);
$fn$;

CREATE OPERATOR pg_catalog.~> (FUNCTION = df.seq, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.|=> (FUNCTION = df.as_op, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.& (FUNCTION = df."join", LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.| (FUNCTION = df.race, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.?> (FUNCTION = df.if_then_op, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.!> (FUNCTION = df.if_else_op, LEFTARG = text, RIGHTARG = text);
CREATE OPERATOR pg_catalog.@> (FUNCTION = df.loop_prefix_op, RIGHTARG = text);

-- ---------------------------------------------------------------------------------------------
-- Graph validation and materialisation
-- ---------------------------------------------------------------------------------------------

-- Why a node (type, query as stored in df.nodes, which children it has, result name) cannot
-- run; NULL when it can. p_condition: whether it has a condition child (IF, LOOP).
CREATE FUNCTION df._node_problem(p_type text, p_query text, p_left boolean, p_right boolean,
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
            IF coalesce(json_typeof(v_config -> 'timeout_seconds'), 'null') <> 'null' THEN
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
CREATE FUNCTION df._json_compact(p_value json) RETURNS text
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
CREATE FUNCTION df._config_with(p_query text, p_members text) RETURNS text
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
CREATE FUNCTION df._new_id() RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT right(gen_random_uuid()::text, 8)
$fn$;

-- True when pg_durable.enable_superuser_instances is on.
CREATE FUNCTION df._superuser_instances_enabled() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(lower(btrim(current_setting('pg_durable.enable_superuser_instances', true)))
                    IN ('on', 'true', '1', 'yes'), false)
$fn$;

-- Raises unless role p_role may submit instances: it must have LOGIN (the worker connects as
-- it) and must not be a superuser unless pg_durable.enable_superuser_instances is on.
CREATE FUNCTION df._check_submitter(p_role oid) RETURNS void
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
-- df.start
-- ---------------------------------------------------------------------------------------------

-- Starts the engine orchestration for an instance that the calling transaction has just
-- inserted (df.start does that). Re-validates everything a caller could have inserted by hand:
-- the submitter, the database, the tree shape and size of the graph and every node.
CREATE FUNCTION df._launch(p_instance_id text, p_vars jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_instance record;
    v_top      bigint;
    v_full     bigint;
    v_count    integer;
    v_parent   text[];
    v_child    text[];
    v_via      text[];
    v_bad      record;
    v_reached  integer;
    v_depth    integer;
    v_input    jsonb;
BEGIN
    SELECT i.id, i.label, i.root_node, i.status, i.submitted_by, i.database, i.xmin AS row_xmin
      INTO v_instance
      FROM df.instances i WHERE i.id = p_instance_id FOR UPDATE;
    IF NOT FOUND
       OR NOT coalesce(pg_has_role(session_user, v_instance.submitted_by::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    IF v_instance.status <> 'pending' THEN
        RAISE EXCEPTION 'instance % is %, not pending; only a new instance can be launched',
            p_instance_id, v_instance.status USING ERRCODE = '55000';
    END IF;
    -- The row must come from this transaction (or one of its subtransactions): its xmin is then
    -- "in progress" (a visible row of any other transaction has committed). Widen the 32-bit
    -- xmin to a full transaction id in the epoch of this transaction's id.
    v_top := pg_current_xact_id()::text::bigint;
    v_full := v_top - v_top % 4294967296 + v_instance.row_xmin::text::bigint;
    IF v_full > v_top + 2147483648 THEN
        v_full := v_full - 4294967296;
    ELSIF v_full < v_top - 2147483648 THEN
        v_full := v_full + 4294967296;
    END IF;
    IF v_full < 3 OR pg_xact_status(v_full::text::xid8) IS DISTINCT FROM 'in progress' THEN
        RAISE EXCEPTION 'instance % was not created in the current transaction; use df.start()',
            p_instance_id USING ERRCODE = '55000';
    END IF;

    PERFORM df._check_submitter(v_instance.submitted_by::oid);
    IF v_instance.database IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = v_instance.database) THEN
        RAISE EXCEPTION 'database "%" does not exist', v_instance.database USING ERRCODE = '3D000';
    END IF;
    p_vars := coalesce(p_vars, '{}');
    IF jsonb_typeof(p_vars) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(p_vars) e WHERE jsonb_typeof(e.value) <> 'string') THEN
        RAISE EXCEPTION 'variables must be a JSON object of text values' USING ERRCODE = '22023';
    END IF;

    -- The graph: at most 10,000 nodes forming one tree under root_node, at most 256 deep,
    -- every node able to run.
    SELECT count(*) INTO v_count FROM df.nodes n WHERE n.instance_id = p_instance_id;
    IF v_count > 10000 THEN
        RAISE EXCEPTION 'Invalid durable function graph: Workflow exceeds maximum node count of 10000. Simplify the workflow or break it into multiple instances.'
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM df.nodes n WHERE n.instance_id = p_instance_id AND n.id = v_instance.root_node) THEN
        RAISE EXCEPTION 'Invalid durable function graph: root node % does not exist', v_instance.root_node
            USING ERRCODE = '22023';
    END IF;

    -- Parent-child edges: left, right, and the ids in IF/LOOP and JOIN query configs.
    WITH n AS (
        SELECT x.id, x.node_type, x.left_node, x.right_node,
               CASE WHEN x.node_type IN ('IF', 'LOOP', 'JOIN') AND x.query IS NOT NULL
                    THEN df._try_json(x.query) END AS config
          FROM df.nodes x
         WHERE x.instance_id = p_instance_id),
    e AS (
        SELECT n.id::text AS parent, n.left_node::text AS child, 'left_node' AS via
          FROM n WHERE n.left_node IS NOT NULL
        UNION ALL
        SELECT n.id, n.right_node, 'right_node' FROM n WHERE n.right_node IS NOT NULL
        UNION ALL
        SELECT n.id, n.config ->> 'condition_node', 'condition_node'
          FROM n
         WHERE n.node_type IN ('IF', 'LOOP') AND json_typeof(n.config) = 'object'
           AND n.config -> 'condition_node' IS NOT NULL
        UNION ALL
        SELECT n.id, j.value #>> '{}', 'extra_nodes'
          FROM n, json_array_elements(CASE WHEN n.node_type = 'JOIN' AND json_typeof(n.config) = 'object'
                                                AND json_typeof(n.config -> 'extra_nodes') = 'array'
                                           THEN n.config -> 'extra_nodes' END) j)
    SELECT coalesce(array_agg(e.parent), '{}'), coalesce(array_agg(e.child), '{}'),
           coalesce(array_agg(e.via), '{}')
      INTO v_parent, v_child, v_via
      FROM e;

    SELECT x.id, p.problem INTO v_bad
      FROM df.nodes x
      LEFT JOIN (SELECT DISTINCT e.parent FROM unnest(v_parent, v_via) AS e(parent, via)
                  WHERE e.via = 'condition_node') c ON c.parent = x.id
     CROSS JOIN LATERAL (SELECT df._node_problem(x.node_type, x.query, x.left_node IS NOT NULL,
                                                 x.right_node IS NOT NULL, c.parent IS NOT NULL,
                                                 x.result_name) AS problem) p
     WHERE x.instance_id = p_instance_id AND p.problem IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node %: %', v_bad.id, v_bad.problem USING ERRCODE = '22023';
    END IF;
    SELECT e.parent, e.child, e.via INTO v_bad
      FROM unnest(v_parent, v_child, v_via) AS e(parent, child, via)
     WHERE e.child IS NULL
        OR NOT EXISTS (SELECT 1 FROM df.nodes x WHERE x.instance_id = p_instance_id AND x.id = e.child)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node %: % refers to a node that does not exist: %',
            v_bad.parent, v_bad.via, coalesce(v_bad.child, 'null') USING ERRCODE = '22023';
    END IF;
    SELECT e.child INTO v_bad
      FROM unnest(v_child) AS e(child)
     GROUP BY e.child
    HAVING count(*) > 1 OR e.child = v_instance.root_node
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node % has more than one parent; a graph must be a tree',
            v_bad.child USING ERRCODE = '22023';
    END IF;
    -- Every node now has at most one parent and the root none, so the walk from the root
    -- visits a tree and ends.
    -- Explicit collations: the caller's argument collation (a name-typed label, say) becomes this
    -- function's, and a recursive query insists on one collation.
    WITH RECURSIVE e AS MATERIALIZED (
        SELECT u.parent COLLATE "C" AS parent, u.child COLLATE "C" AS child
          FROM unnest(v_parent, v_child) AS u(parent, child)),
    tree(id, depth) AS (
        SELECT v_instance.root_node::text COLLATE "C", 0
        UNION ALL
        SELECT e.child, t.depth + 1
          FROM tree t JOIN e ON e.parent = t.id
         WHERE t.depth <= 256)
    SELECT count(*), max(tree.depth) INTO v_reached, v_depth FROM tree;
    IF v_depth > 256 THEN
        RAISE EXCEPTION 'Invalid durable function graph: Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.'
            USING ERRCODE = '22023';
    END IF;
    IF v_reached <> v_count THEN
        RAISE EXCEPTION 'Invalid durable function graph: % of % nodes are not reachable from root node %',
            v_count - v_reached, v_count, v_instance.root_node USING ERRCODE = '22023';
    END IF;

    SELECT jsonb_build_object(
               'instance_id', v_instance.id,
               'label', v_instance.label,
               'database', v_instance.database,
               'role', r.rolname,
               'role_oid', r.oid::bigint,
               'root', v_instance.root_node,
               'vars', p_vars,
               'nodes', (SELECT jsonb_object_agg(n.id, jsonb_build_object(
                                    'type', n.node_type, 'query', n.query, 'result_name', n.result_name,
                                    'left', n.left_node, 'right', n.right_node))
                           FROM df.nodes n WHERE n.instance_id = v_instance.id))
      INTO v_input
      FROM pg_roles r
     WHERE r.oid = v_instance.submitted_by::oid;

    PERFORM df_engine.start_orchestration(v_instance.id, 'df.function_graph', v_input::text);
END
$fn$;

-- Why a decoded graph node is not acceptable at this depth, or NULL; shared by df.start (which
-- raises it) and df.explain (which shows it), so both always agree.
CREATE FUNCTION df._graph_node_problem(p_node df._node, p_depth integer) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_depth constant integer := 256;
    v_config json;
BEGIN
    IF p_depth > c_max_depth THEN
        RETURN format('Graph exceeds maximum nesting depth of %s. Simplify the workflow or break it into multiple instances.', c_max_depth);
    ELSIF NOT p_node.node_type = ANY (df._node_types()) THEN
        RETURN format('Unknown node_type ''%s''. Valid types: %s',
                      p_node.node_type, array_to_string(df._node_types(), ', '));
    ELSIF p_node.condition_node IS NOT NULL AND p_node.node_type NOT IN ('IF', 'LOOP') THEN
        RETURN format('condition_node is not valid for %s nodes', p_node.node_type);
    ELSIF cardinality(p_node.extra_nodes) > 0 AND p_node.node_type <> 'JOIN' THEN
        RETURN format('extra_nodes is not valid for %s nodes', p_node.node_type);
    ELSIF p_node.node_type IN ('IF', 'LOOP', 'JOIN') THEN
        v_config := df._try_json(p_node.query);
        IF json_typeof(v_config) = 'object' THEN
            IF p_node.node_type <> 'JOIN' AND v_config -> 'condition_node' IS NOT NULL THEN
                RETURN format('condition_node in %s must be a first-class Durofut field, not embedded in query', p_node.node_type);
            ELSIF p_node.node_type = 'JOIN' AND v_config -> 'extra_nodes' IS NOT NULL THEN
                RETURN 'extra_nodes in JOIN must be a first-class Durofut field, not embedded in query';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION df.start(fut text, label text DEFAULT NULL, database text DEFAULT NULL,
                         transaction_mode text DEFAULT 'caller') RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_depth constant integer := 256;
    c_max_nodes constant integer := 10000;
    v_fut      text := $1;
    v_label    text := $2;
    v_database text := $3;
    v_mode     text := $4;
    v_json     json;
    v_root     df._node;
    v_helper   text;
    v_problem  text;
    -- The walk: a stack of discovered, decoded nodes with their numbers, depths and paths.
    s_node   df._node[] := '{}';
    s_num    integer[] := '{}';
    s_depth  integer[] := '{}';
    s_path   text[] := '{}';
    v_top    integer := 0;
    v_node   df._node;
    v_num    integer;
    v_depth  integer;
    v_path   text := 'root';
    v_count  integer := 1;
    v_config json;
    v_extras text[];
    -- The children of the node being visited.
    k_raw    text[];
    k_seg    text[];
    k_node   df._node[];
    k_n      integer;
    v_child  df._node;
    -- The nodes, indexed by number (discovery order; the root is 1). Extra children of node i
    -- are x_child[o_xfirst[i] .. o_xfirst[i] + o_xcount[i] - 1].
    o_type   text[] := '{}';
    o_query  text[] := '{}';
    o_result text[] := '{}';
    o_left   integer[] := '{}';
    o_right  integer[] := '{}';
    o_cond   integer[] := '{}';
    o_xfirst integer[] := '{}';
    o_xcount integer[] := '{}';
    x_child  integer[] := '{}';
    v_xn     integer := 0;
    -- The rows.
    v_ids    text[] := '{}';
    r_left   text[] := '{}';
    r_right  text[] := '{}';
    v_list   text[];
    v_members text;
    v_id     text;
    v_vars   jsonb;
BEGIN
    IF v_mode IS NULL OR lower(v_mode) NOT IN ('caller', 'new') THEN
        RAISE EXCEPTION 'invalid transaction_mode "%" for df.start(): expected ''caller'' or ''new''',
            coalesce(v_mode, 'NULL') USING ERRCODE = '22023';
    END IF;
    IF lower(v_mode) = 'new' THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' is not supported yet; use ''caller'''
            USING ERRCODE = '0A000';
    END IF;
    IF v_fut IS NULL THEN
        RAISE EXCEPTION 'df.start(): fut must not be NULL' USING ERRCODE = '22004';
    END IF;

    BEGIN
        -- The graph value: a JSON object with a string node_type is a node, anything else a
        -- single SQL step.
        IF ltrim(v_fut, E' \t\n\r') LIKE '{%' THEN
            v_json := df._try_json(v_fut);
            IF json_typeof(v_json) = 'object' THEN
                v_root := df._decode_node(v_json);
                IF v_root.node_type IS NOT NULL THEN
                    IF NOT v_root.node_type = ANY (df._node_types()) THEN
                        RAISE EXCEPTION 'Invalid durable function: Unknown node_type ''%''. Valid types: %',
                            v_root.node_type, array_to_string(df._node_types(), ', ') USING ERRCODE = '22023';
                    END IF;
                    IF v_root.problem IS NOT NULL THEN
                        RAISE EXCEPTION 'Invalid durable function: Malformed Durofut JSON with node_type ''%'': %',
                            v_root.node_type, v_root.problem USING ERRCODE = '22023';
                    END IF;
                END IF;
            END IF;
        ELSE
            v_helper := df._non_future_source(v_fut);
            IF v_helper IS NOT NULL THEN
                RAISE EXCEPTION 'Invalid durable function: % cannot be used as a workflow step. Call % before df.start().',
                    v_helper, v_helper USING ERRCODE = '22023';
            END IF;
        END IF;
        IF v_root.node_type IS NULL THEN
            v_root := df._leaf('SQL', v_fut);
        END IF;

        IF v_database IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = v_database) THEN
            RAISE EXCEPTION 'database "%" does not exist', v_database USING ERRCODE = '3D000';
        END IF;
        PERFORM df._check_submitter((SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));

        -- Walk the graph depth first (left, right, condition, extras), numbering nodes as they
        -- are discovered and checking each one; nothing is written until the whole graph is good.
        v_top := 1;
        s_node[1] := v_root;
        s_num[1] := 1;
        s_depth[1] := 0;
        s_path[1] := 'root';
        WHILE v_top > 0 LOOP
            v_node := s_node[v_top];
            v_num := s_num[v_top];
            v_depth := s_depth[v_top];
            v_path := s_path[v_top];
            s_node[v_top] := NULL;
            v_top := v_top - 1;
            v_problem := NULL;
            v_config := NULL;

            v_problem := df._graph_node_problem(v_node, v_depth);
            IF v_problem IS NULL AND v_node.node_type IN ('IF', 'LOOP', 'JOIN') THEN
                v_config := df._try_json(v_node.query);
            END IF;
            IF v_problem IS NOT NULL THEN
                RAISE EXCEPTION 'Invalid durable function graph: %: %', v_path, v_problem USING ERRCODE = '22023';
            END IF;

            -- Discover the children.
            k_raw := '{}';
            k_seg := '{}';
            k_n := 0;
            IF v_node.left_node IS NOT NULL THEN
                k_n := k_n + 1;
                k_raw[k_n] := v_node.left_node;
                k_seg[k_n] := 'left';
            END IF;
            IF v_node.right_node IS NOT NULL THEN
                k_n := k_n + 1;
                k_raw[k_n] := v_node.right_node;
                k_seg[k_n] := 'right';
            END IF;
            IF v_node.condition_node IS NOT NULL THEN
                k_n := k_n + 1;
                k_raw[k_n] := v_node.condition_node;
                k_seg[k_n] := 'condition_node';
            END IF;
            v_extras := v_node.extra_nodes;
            o_xcount[v_num] := coalesce(cardinality(v_extras), 0);
            o_xfirst[v_num] := v_xn + 1;
            FOR e IN 1..o_xcount[v_num] LOOP
                k_n := k_n + 1;
                k_raw[k_n] := v_extras[e];
                k_seg[k_n] := 'extra_nodes[' || (e - 1) || ']';
            END LOOP;
            k_node := '{}';
            FOR k IN 1..k_n LOOP
                IF v_count >= c_max_nodes THEN
                    RAISE EXCEPTION 'Invalid durable function graph: %.%: Workflow exceeds maximum node count of %. Simplify the workflow or break it into multiple instances.',
                        v_path, k_seg[k], c_max_nodes USING ERRCODE = '22023';
                END IF;
                v_child := df._decode_node(k_raw[k]::json);
                IF v_child.problem IS NOT NULL THEN
                    RAISE EXCEPTION 'Invalid durable function graph: %.%: failed to deserialize Durofut child: %',
                        v_path, k_seg[k], v_child.problem USING ERRCODE = '22023';
                END IF;
                k_node[k] := v_child;
                v_count := v_count + 1;
                CASE k_seg[k]
                    WHEN 'left' THEN o_left[v_num] := v_count;
                    WHEN 'right' THEN o_right[v_num] := v_count;
                    WHEN 'condition_node' THEN o_cond[v_num] := v_count;
                    ELSE
                        v_xn := v_xn + 1;
                        x_child[v_xn] := v_count;
                END CASE;
            END LOOP;

            -- A condition or extra children become ids inside a JSON config in query.
            IF (v_node.condition_node IS NOT NULL OR o_xcount[v_num] > 0) AND v_node.query IS NOT NULL THEN
                IF v_config IS NULL THEN
                    BEGIN
                        PERFORM v_node.query::json;
                    EXCEPTION WHEN data_exception THEN
                        RAISE EXCEPTION 'Invalid durable function graph: %: query in % must be valid JSON config: %',
                            v_path, v_node.node_type, SQLERRM USING ERRCODE = '22023';
                    END;
                END IF;
                IF json_typeof(v_config) <> 'object' THEN
                    RAISE EXCEPTION 'Invalid durable function graph: %: query in % must be a JSON config object',
                        v_path, v_node.node_type USING ERRCODE = '22023';
                END IF;
            END IF;

            v_problem := df._node_problem(v_node.node_type, v_node.query, v_node.left_node IS NOT NULL,
                                          v_node.right_node IS NOT NULL, v_node.condition_node IS NOT NULL,
                                          v_node.result_name);
            IF v_problem IS NOT NULL THEN
                RAISE EXCEPTION 'Invalid durable function graph: %: %', v_path, v_problem USING ERRCODE = '22023';
            END IF;

            o_type[v_num] := v_node.node_type;
            o_query[v_num] := v_node.query;
            o_result[v_num] := v_node.result_name;

            -- Push in reverse, so that the left child is visited first. Child k is node v_count - k_n + k.
            FOR k IN REVERSE k_n..1 LOOP
                v_top := v_top + 1;
                s_node[v_top] := k_node[k];
                s_num[v_top] := v_count - k_n + k;
                s_depth[v_top] := v_depth + 1;
                s_path[v_top] := v_path || '.' || k_seg[k];
            END LOOP;
        END LOOP;
    EXCEPTION WHEN statement_too_complex THEN
        -- JSON nested far deeper than any acceptable graph exhausts the parser's stack.
        RAISE EXCEPTION 'Invalid durable function graph: %: Graph exceeds maximum nesting depth of %. Simplify the workflow or break it into multiple instances.',
            v_path, c_max_depth USING ERRCODE = '22023';
    END;

    -- Node ids, unique within the graph.
    FOR attempt IN 1..10 LOOP
        SELECT array_agg(u.id ORDER BY u.pos) INTO v_ids
          FROM (SELECT c.id, min(c.pos) AS pos
                  FROM (SELECT a.id, a.pos FROM unnest(v_ids) WITH ORDINALITY AS a(id, pos)
                        UNION ALL
                        SELECT df._new_id(), coalesce(cardinality(v_ids), 0) + g
                          FROM generate_series(1, v_count - coalesce(cardinality(v_ids), 0)) g) c
                 GROUP BY c.id) u;
        EXIT WHEN cardinality(v_ids) = v_count;
    END LOOP;
    IF cardinality(v_ids) <> v_count THEN
        RAISE EXCEPTION 'Invalid durable function graph: root: exhausted 10 attempts to generate a graph-unique node ID'
            USING ERRCODE = '55000';
    END IF;

    -- Children by id; a condition or extra children go into the JSON config in query.
    FOR i IN 1..v_count LOOP
        r_left[i] := v_ids[o_left[i]];
        r_right[i] := v_ids[o_right[i]];
        IF o_cond[i] IS NOT NULL OR o_xcount[i] > 0 THEN
            v_members := '';
            IF o_cond[i] IS NOT NULL THEN
                v_members := ',"condition_node":"' || v_ids[o_cond[i]] || '"';
            END IF;
            IF o_xcount[i] > 0 THEN
                v_list := '{}';
                FOR j IN 1..o_xcount[i] LOOP
                    v_list[j] := '"' || v_ids[x_child[o_xfirst[i] + j - 1]] || '"';
                END LOOP;
                v_members := v_members || ',"extra_nodes":[' || array_to_string(v_list, ',') || ']';
            END IF;
            o_query[i] := df._config_with(o_query[i], v_members);
        END IF;
    END LOOP;

    -- The instance id is global: claim one, re-rolling on collision with any role's instance.
    FOR attempt IN 1..10 LOOP
        INSERT INTO df.instances (id, label, root_node, database)
        VALUES (df._new_id(), v_label, v_ids[1], v_database)
        ON CONFLICT (id) DO NOTHING
        RETURNING id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'Failed to create instance: exhausted 10 attempts to generate a collision-free ID'
            USING ERRCODE = '55000';
    END IF;

    INSERT INTO df.nodes (id, instance_id, node_type, query, result_name, left_node, right_node, database)
    SELECT n.id, v_id, n.node_type, n.query, n.result_name, n.left_node, n.right_node, v_database
      FROM unnest(v_ids, o_type, o_query, o_result, r_left, r_right)
           AS n(id, node_type, query, result_name, left_node, right_node);

    -- The caller's variables as they are now, in this transaction.
    SELECT coalesce(jsonb_object_agg(v.name, v.value), '{}') INTO v_vars
      FROM df.vars v
     WHERE v.owner = quote_ident(current_user)::regrole AND v.value IS NOT NULL;

    PERFORM df._launch(v_id, v_vars);
    RETURN v_id;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Instance control
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.status(instance_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT i.status FROM df.instances i WHERE i.id = $1
$fn$;

CREATE FUNCTION df.result(instance_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT n.result::text
      FROM df.instances i
      JOIN df.nodes n ON n.instance_id = i.id AND n.id = i.root_node
     -- The instance must have completed too: a df.break() outside any loop completes its
     -- node (and the root) but fails the instance.
     WHERE i.id = $1 AND i.status = 'completed' AND n.status = 'completed'
$fn$;

-- Cancels an instance the login role may act for: the engine instance and its children stop
-- (their queued work is deleted), and a non-terminal df status becomes 'cancelled'.
CREATE FUNCTION df._cancel(p_instance_id text, p_reason text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_submitter regrole;
BEGIN
    SELECT i.submitted_by INTO v_submitter FROM df.instances i WHERE i.id = p_instance_id;
    IF NOT FOUND
       OR NOT (coalesce(pg_has_role(session_user, v_submitter::oid, 'MEMBER'), false)
               OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user)) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    -- Engine first: a worker turn locks the engine instance before it writes df status, so
    -- taking the locks in the same order cannot deadlock with it.
    IF EXISTS (SELECT 1 FROM df_engine.instances e WHERE e.id = p_instance_id) THEN
        PERFORM df_engine.cancel(p_instance_id, p_reason);
    END IF;
    UPDATE df.instances i
       SET status = 'cancelled', completed_at = now(), updated_at = now()
     WHERE i.id = p_instance_id AND i.status NOT IN ('completed', 'failed', 'cancelled');
    RETURN format('Instance %s cancelled: %s', p_instance_id, p_reason);
END
$fn$;

CREATE FUNCTION df.cancel(instance_id text, reason text DEFAULT 'Cancelled by user') RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = $1) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', $1 USING ERRCODE = '42704';
    END IF;
    RETURN df._cancel($1, $2);
END
$fn$;

CREATE FUNCTION df.await_instance(instance_id text, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_deadline timestamptz;
    v_status text;
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.await_instance() cannot be called inside a workflow - it would block a worker thread (and self-deadlock if waiting on the current instance). Use df.signal() and df.wait_for_signal() for cross-workflow coordination.'
            USING ERRCODE = '0A000';
    END IF;
    IF timeout_seconds <= 0 THEN
        RAISE EXCEPTION 'Timeout must be positive' USING ERRCODE = '22023';
    END IF;
    v_deadline := clock_timestamp() + make_interval(secs => timeout_seconds);
    LOOP
        SELECT i.status INTO v_status FROM df.instances i WHERE i.id = $1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Instance not found: %', $1 USING ERRCODE = '42704';
        END IF;
        IF v_status IN ('completed', 'failed', 'cancelled') THEN
            PERFORM df._mark_non_future('df.await_instance', v_status);
            RETURN v_status;
        END IF;
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'df.await_instance() needs READ COMMITTED isolation: instance % is % and this transaction''s snapshot would never see it change',
                $1, v_status USING ERRCODE = '25000';
        END IF;
        IF clock_timestamp() >= v_deadline THEN
            RAISE EXCEPTION 'Timeout after %s waiting for instance % (status: %). Check if background worker is running.',
                timeout_seconds, $1, v_status;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$fn$;

CREATE FUNCTION df.wait_for_completion(instance_id text, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE WARNING 'df.wait_for_completion() is deprecated; use df.await_instance() instead';
    RETURN df.await_instance($1, $2);
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Variables (per role; snapshotted by df.start)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.setvar(name text, value text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.setvar() cannot be called inside a workflow - set variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    INSERT INTO df.vars AS v (name, value) VALUES ($1, $2)
    ON CONFLICT ON CONSTRAINT vars_pkey DO UPDATE SET value = excluded.value;
    PERFORM df._mark_non_future('df.setvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE FUNCTION df.getvar(name text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT v.value FROM df.vars v WHERE v.name = $1 AND v.owner = quote_ident(current_user)::regrole
$fn$;

CREATE FUNCTION df.unsetvar(name text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.unsetvar() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    DELETE FROM df.vars v WHERE v.name = $1 AND v.owner = quote_ident(current_user)::regrole;
    PERFORM df._mark_non_future('df.unsetvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE FUNCTION df.clearvars() RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.clearvars() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    DELETE FROM df.vars v WHERE v.owner = quote_ident(current_user)::regrole;
    PERFORM df._mark_non_future('df.clearvars', 'OK');
    RETURN 'OK';
END
$fn$;

-- The version of this build. A migration that ships with a new release redefines it.
CREATE FUNCTION df.version() RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT '0.1.0'
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Privilege helpers. SECURITY INVOKER: the caller must hold every privilege it hands on WITH
-- GRANT OPTION (superusers do, and so do roles granted usage with with_grant => true).
-- Purely additive; df.revoke_usage undoes exactly what the caller granted.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.grant_usage(p_role text, include_http boolean DEFAULT false, with_grant boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_opt text := CASE WHEN with_grant THEN ' WITH GRANT OPTION' ELSE '' END;
    v_fn  regprocedure;
BEGIN
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'df.grant_usage(): p_role must not be NULL' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA df TO %I', p_role) || v_opt;
    IF include_http THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.http(text, text, text, jsonb, integer) TO %I', p_role) || v_opt;
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.http_multipart(text, text, jsonb, jsonb, integer) TO %I', p_role) || v_opt;
    END IF;
    IF with_grant THEN
        -- A pg_durable administrator: may grant and revoke usage, and see cluster-wide figures.
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.grant_usage(text, boolean, boolean) TO %I', p_role) || v_opt;
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.revoke_usage(text) TO %I', p_role) || v_opt;
        IF to_regprocedure('df.metrics()') IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION df.metrics() TO %I', p_role) || v_opt;
        END IF;
        EXECUTE format('GRANT SELECT ON df.workers TO %I', p_role) || v_opt;
        EXECUTE format('GRANT SELECT ON df._usage_functions TO %I', p_role) || v_opt;
    END IF;
    EXECUTE format('GRANT SELECT ON df.instances TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT ON df.nodes TO %I', p_role) || v_opt;
    EXECUTE format('GRANT INSERT (id, label, root_node, submitted_by, database) ON df.instances TO %I', p_role) || v_opt;
    EXECUTE format('GRANT INSERT (id, instance_id, node_type, query, result_name, left_node, right_node, submitted_by, database) ON df.nodes TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON df.vars TO %I', p_role) || v_opt;
    FOR v_fn IN
        SELECT to_regprocedure(u.signature) FROM df._usage_functions u
         WHERE to_regprocedure(u.signature) IS NOT NULL ORDER BY u.signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, p_role) || v_opt;
    END LOOP;
    RAISE NOTICE 'pg_durable: granted df usage privileges to "%"', p_role;
END
$fn$;

CREATE FUNCTION df.revoke_usage(p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_fn regprocedure;
BEGIN
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'df.revoke_usage(): p_role must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- Functions a delegated administrator may hold no grant option on are skipped.
    FOR v_fn IN
        SELECT f.fn FROM (
            SELECT to_regprocedure(s) AS fn, s
              FROM unnest(ARRAY['df.http(text,text,text,jsonb,integer)', 'df.metrics()',
                                'df.http_multipart(text,text,jsonb,jsonb,integer)',
                                'df.grant_usage(text,boolean,boolean)', 'df.revoke_usage(text)']) s
            UNION ALL
            SELECT to_regprocedure(u.signature), u.signature FROM df._usage_functions u) f
         WHERE f.fn IS NOT NULL
    LOOP
        BEGIN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %I CASCADE', v_fn, p_role);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
    BEGIN
        EXECUTE format('REVOKE SELECT ON df.workers FROM %I CASCADE', p_role);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    BEGIN
        EXECUTE format('REVOKE SELECT ON df._usage_functions FROM %I CASCADE', p_role);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    EXECUTE format('REVOKE SELECT, INSERT, UPDATE, DELETE ON df.vars FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE INSERT (id, instance_id, node_type, query, result_name, left_node, right_node, submitted_by, database) ON df.nodes FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.nodes FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE INSERT (id, label, root_node, submitted_by, database) ON df.instances FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.instances FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE USAGE ON SCHEMA df FROM %I CASCADE', p_role);
    RAISE NOTICE 'pg_durable: revoked df usage privileges granted by "%" from "%"', current_user, p_role;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Function privileges
-- ---------------------------------------------------------------------------------------------

REVOKE EXECUTE ON FUNCTION df.http(text, text, text, jsonb, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION df.http_multipart(text, text, jsonb, jsonb, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION df.grant_usage(text, boolean, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION df.revoke_usage(text) FROM PUBLIC;

DO $do$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'df'::regnamespace AND p.proname LIKE '\_%'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_fn);
    END LOOP;
END
$do$;

-- The helpers the public functions above call as their caller. df._launch and df._cancel are
-- SECURITY DEFINER and re-check the caller themselves; the rest are pure.
INSERT INTO df._usage_functions (signature) VALUES
    ('df._node_types()'),
    ('df._try_json(text)'),
    ('df._json_kind(json)'),
    ('df._decode_node(json)'),
    ('df._render(df._node)'),
    ('df._leaf(text,text)'),
    ('df._mark_non_future(text,text)'),
    ('df._non_future_source(text)'),
    ('df._ensure(text)'),
    ('df._operand(text)'),
    ('df._result_name_problem(text)'),
    ('df._cron_value(text,integer,boolean)'),
    ('df._cron_problem(text)'),
    ('df._cron_expand(text,integer)'),
    ('df._graph_node_problem(df._node,integer)'),
    ('df._node_problem(text,text,boolean,boolean,boolean,text)'),
    ('df._json_compact(json)'),
    ('df._config_with(text,text)'),
    ('df._new_id()'),
    ('df._superuser_instances_enabled()'),
    ('df._check_submitter(oid)'),
    ('df._launch(text,jsonb)'),
    ('df._cancel(text,text)');

SELECT set_config('search_path', current_setting('pg_durable.installer_search_path'), true);
