-- Privileges, locks and input limits.

SELECT set_config('pg_durable.installer_search_path', current_setting('search_path'), true);
SELECT set_config('search_path', 'pg_catalog, pg_temp', true);

-- ---------------------------------------------------------------------------------------------
-- Owner-only named locks.
--
-- An advisory lock key is a number anyone can compute, and any role may take any advisory lock:
-- a role with no df rights at all could hold the key of an exclusive job and stop it. A row of
-- this table can be locked only by a role with UPDATE on it, and nobody but the table's owner
-- (the installing role) has any privilege on it. To hold a named lock for the rest of the
-- current transaction, without waiting:
--
--     SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED;
--
-- No row back means another transaction holds it (FOR UPDATE NOWAIT raises 55P03 instead).
-- The lock is released when the transaction ends; there is no session-level form.
-- Rows: 'run_worker' (one df.run_worker() per database). Add a row for a new lock in the
-- migration that needs it. Reconciliation holds a table lock on df_engine.reconcile_lock instead
-- (013), because a batched pass spans several transactions.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE df_engine.locks (
    name text PRIMARY KEY
);
REVOKE ALL ON df_engine.locks FROM PUBLIC;
INSERT INTO df_engine.locks (name) VALUES ('run_worker');

COMMENT ON TABLE df_engine.locks IS
    'Owner-only named locks: SELECT 1 FROM df_engine.locks WHERE name = ... FOR UPDATE SKIP LOCKED holds one until the transaction ends. No privileges for anyone but the owner.';

-- ---------------------------------------------------------------------------------------------
-- Input limits. All fixed (no setting can raise them): each protects the server's indexes or
-- the worker's JSON reader, which no session may loosen.
--
--   label of df.start                  500 characters     a btree index key
--   signal name                        500 characters     likewise
--   signal data, as JSON text          1 MiB              it travels in the engine's history
--   nesting depth of signal data       100 levels         the worker's result limit is
--                                                         1,000 levels; results wrap the data in at
--                                                         most one level per graph level (256)
--   numbers in signal data             500 characters     well inside the reader's bound
--   object keys in signal data         10,000 characters  likewise
--   df.sleep, wait_for_signal timeout  999,999,999 s      about 31 years: SIGNAL timeouts were
--                                                         already held to 9 digits, and timers
--                                                         much further out cannot be stored
--                                                         (timestamptz ends in the year 294276)
-- ---------------------------------------------------------------------------------------------

-- Why signal data cannot be sent, or NULL. The data is measured as the worker will read it:
-- jsonb's text form (where 1e400 is written out in 401 digits).
CREATE FUNCTION df._signal_data_problem(p_data jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_bytes  constant integer := 1048576;
    c_max_depth  constant integer := 100;
    c_max_number constant integer := 500;
    c_max_key    constant integer := 10000;
    v_text text := p_data::text;
    v_size integer;
BEGIN
    v_size := octet_length(v_text);
    IF v_size > c_max_bytes THEN
        RETURN format('signal data is %s bytes as JSON; the limit is %s bytes (1 MiB)', v_size, c_max_bytes);
    END IF;
    BEGIN
        -- Only data with more than c_max_depth opening brackets can be that deep.
        IF length(v_text) - length(translate(v_text, '[{', '')) > c_max_depth
           AND jsonb_path_exists(p_data, 'strict $.**{100 to last} ? (@.type() == "object" || @.type() == "array")') THEN
            RETURN format('signal data is nested more than %s levels deep; the limit is %s levels', c_max_depth, c_max_depth);
        END IF;
    EXCEPTION WHEN statement_too_complex THEN
        RETURN format('signal data is nested more than %s levels deep; the limit is %s levels', c_max_depth, c_max_depth);
    END;
    -- jsonb writes numbers as digits, sign and point only: a long number is a long run of those.
    IF v_text ~ '[-0-9.]{250}[-0-9.]{251}' THEN
        SELECT max(length(n::text)) INTO v_size
          FROM jsonb_path_query(p_data, 'strict $.** ? (@.type() == "number")') n;
        IF v_size > c_max_number THEN
            RETURN format('signal data holds a number of %s characters; the limit is %s characters', v_size, c_max_number);
        END IF;
    END IF;
    IF octet_length(v_text) > c_max_key THEN
        SELECT max(length(k)) INTO v_size
          FROM jsonb_path_query(p_data, 'strict $.** ? (@.type() == "object")') o, jsonb_object_keys(o) k;
        IF v_size > c_max_key THEN
            RETURN format('signal data holds an object key of %s characters; the limit is %s characters', v_size, c_max_key);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION df.sleep(seconds bigint) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF seconds < 0 THEN
        RAISE EXCEPTION 'Sleep duration must be non-negative' USING ERRCODE = '22023';
    END IF;
    IF seconds > 999999999 THEN
        RAISE EXCEPTION 'df.sleep(): seconds must be at most 999999999 (about 31 years), got %', seconds
            USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SLEEP', seconds::text));
END
$fn$;

CREATE OR REPLACE FUNCTION df.wait_for_signal(name text, timeout_seconds integer DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'df.wait_for_signal(): name must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF name = '' THEN
        RAISE EXCEPTION 'Signal name cannot be empty' USING ERRCODE = '22023';
    END IF;
    IF length(name) > 500 THEN
        RAISE EXCEPTION 'df.wait_for_signal(): signal name is % characters long; the limit is 500 characters', length(name)
            USING ERRCODE = '54000';
    END IF;
    IF timeout_seconds <= 0 THEN
        RAISE EXCEPTION 'Timeout must be positive' USING ERRCODE = '22023';
    END IF;
    IF timeout_seconds > 999999999 THEN
        RAISE EXCEPTION 'df.wait_for_signal(): timeout_seconds must be at most 999999999 (about 31 years), got %', timeout_seconds
            USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SIGNAL', '{"signal_name":' || to_json(name)::text
        || ',"timeout_seconds":' || coalesce(timeout_seconds::text, 'null') || '}'));
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Writes through SECURITY DEFINER helpers.
--
-- Application roles used to hold INSERT on df.instances and df.nodes and every write privilege
-- on df.vars. Table write privileges let a role LOCK a table in any mode (ACCESS EXCLUSIVE on
-- df.vars blocked every df.start), and INSERT let it probe other roles' instance ids (a unique
-- violation) and leave hand-made pending rows behind. Now df.start and the variable functions
-- run as their caller and call the helpers below, which act only for the calling role: the
-- role the public function passes (its current_user), and only when the session's login role
-- is a member of it (the check df._launch and df._cancel make). Application roles keep SELECT,
-- under row-level security.
-- ---------------------------------------------------------------------------------------------

-- Creates and launches an instance for p_role from the graph df.start built: nodes in order,
-- the first is the root. Picks the instance id itself (re-rolling on a clash with any role's
-- id, which reveals nothing to the caller).
CREATE FUNCTION df._start_instance(p_role regrole, p_label text, p_database text, p_ids text[],
                                   p_types text[], p_queries text[], p_results text[],
                                   p_lefts text[], p_rights text[])
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id   text;
    v_vars jsonb;
BEGIN
    IF p_role IS NULL OR NOT coalesce(pg_has_role(session_user, p_role::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'df.start(): session user "%" may not start instances as role %', session_user,
            coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
    IF length(p_label) > 500 THEN
        RAISE EXCEPTION 'df.start(): label is % characters long; the limit is 500 characters', length(p_label)
            USING ERRCODE = '54000';
    END IF;
    IF coalesce(cardinality(p_ids), 0) = 0
       OR cardinality(p_types) <> cardinality(p_ids) OR cardinality(p_queries) <> cardinality(p_ids)
       OR cardinality(p_results) <> cardinality(p_ids) OR cardinality(p_lefts) <> cardinality(p_ids)
       OR cardinality(p_rights) <> cardinality(p_ids) THEN
        RAISE EXCEPTION 'df._start_instance(): the node arrays must be non-empty and of one length'
            USING ERRCODE = '22023';
    END IF;

    FOR attempt IN 1..10 LOOP
        INSERT INTO df.instances (id, label, root_node, submitted_by, database)
        VALUES (df._new_id(), p_label, p_ids[1], p_role, p_database)
        ON CONFLICT (id) DO NOTHING
        RETURNING id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'Failed to create instance: exhausted 10 attempts to generate a collision-free ID'
            USING ERRCODE = '55000';
    END IF;

    INSERT INTO df.nodes (id, instance_id, node_type, query, result_name, left_node, right_node,
                          submitted_by, database)
    SELECT n.id, v_id, n.node_type, n.query, n.result_name, n.left_node, n.right_node, p_role, p_database
      FROM unnest(p_ids, p_types, p_queries, p_results, p_lefts, p_rights)
           AS n(id, node_type, query, result_name, left_node, right_node);

    -- The role's variables as they are now, in this transaction.
    SELECT coalesce(jsonb_object_agg(v.name, v.value), '{}') INTO v_vars
      FROM df.vars v
     WHERE v.owner = p_role AND v.value IS NOT NULL;

    -- Validates the submitter, the database and the whole graph, then starts the engine.
    PERFORM df._launch(v_id, v_vars);
    RETURN v_id;
END
$fn$;

-- Raises unless the session may manage the variables of p_role.
CREATE FUNCTION df._check_vars_role(p_role regrole) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF p_role IS NULL OR NOT coalesce(pg_has_role(session_user, p_role::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'session user "%" may not manage the variables of role %', session_user,
            coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
END
$fn$;

CREATE FUNCTION df._setvar(p_role regrole, p_name text, p_value text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM df._check_vars_role(p_role);
    INSERT INTO df.vars AS v (name, value, owner) VALUES (p_name, p_value, p_role)
    ON CONFLICT ON CONSTRAINT vars_pkey DO UPDATE SET value = excluded.value;
END
$fn$;

CREATE FUNCTION df._getvar(p_role regrole, p_name text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT v.value FROM df.vars v
     WHERE v.owner = p_role AND v.name = p_name
       AND coalesce(pg_has_role(session_user, p_role::oid, 'MEMBER'), false)
$fn$;

CREATE FUNCTION df._unsetvar(p_role regrole, p_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM df._check_vars_role(p_role);
    DELETE FROM df.vars v WHERE v.owner = p_role AND v.name = p_name;
END
$fn$;

CREATE FUNCTION df._clearvars(p_role regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM df._check_vars_role(p_role);
    DELETE FROM df.vars v WHERE v.owner = p_role;
END
$fn$;

CREATE OR REPLACE FUNCTION df.setvar(name text, value text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.setvar() cannot be called inside a workflow - set variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._setvar(quote_ident(current_user)::regrole, $1, $2);
    PERFORM df._mark_non_future('df.setvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE OR REPLACE FUNCTION df.getvar(name text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df._getvar(quote_ident(current_user)::regrole, $1)
$fn$;

CREATE OR REPLACE FUNCTION df.unsetvar(name text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.unsetvar() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._unsetvar(quote_ident(current_user)::regrole, $1);
    PERFORM df._mark_non_future('df.unsetvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE OR REPLACE FUNCTION df.clearvars() RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.clearvars() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._clearvars(quote_ident(current_user)::regrole);
    PERFORM df._mark_non_future('df.clearvars', 'OK');
    RETURN 'OK';
END
$fn$;

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

-- df.start: unchanged up to its writes, which go through df._start_instance.
CREATE OR REPLACE FUNCTION df.start(fut text, label text DEFAULT NULL, database text DEFAULT NULL,
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

    -- The rows are written, the variables read and the engine started by a SECURITY DEFINER
    -- helper, for the calling role: application roles have no write privileges on the tables.
    RETURN df._start_instance(quote_ident(current_user)::regrole, v_label, v_database,
                              v_ids, o_type, o_query, o_result, r_left, r_right);
END
$fn$;

-- df.grant_usage grants no table write privilege any more; df.revoke_usage revokes what it grants.
CREATE OR REPLACE FUNCTION df.grant_usage(p_role text, include_http boolean DEFAULT false, with_grant boolean DEFAULT false)
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
    -- format('%I', 'public') is the bare keyword PUBLIC: every role, present and future.
    IF p_role = 'public' THEN
        RAISE EXCEPTION 'df.grant_usage(): p_role must name a role, got ''public'' (PUBLIC, every role); grant df usage to a group role instead'
            USING ERRCODE = '22023';
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
    -- Reading only, under row-level security; every write goes through df's functions.
    EXECUTE format('GRANT SELECT ON df.instances TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT ON df.nodes TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT ON df.vars TO %I', p_role) || v_opt;
    FOR v_fn IN
        SELECT to_regprocedure(u.signature) FROM df._usage_functions u
         WHERE to_regprocedure(u.signature) IS NOT NULL ORDER BY u.signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, p_role) || v_opt;
    END LOOP;
    RAISE NOTICE 'pg_durable: granted df usage privileges to "%"', p_role;
END
$fn$;

CREATE OR REPLACE FUNCTION df.revoke_usage(p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_fn regprocedure;
BEGIN
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'df.revoke_usage(): p_role must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- format('%I', 'public') is the bare keyword PUBLIC: every role, present and future.
    IF p_role = 'public' THEN
        RAISE EXCEPTION 'df.revoke_usage(): p_role must name a role, got ''public'' (PUBLIC, every role); grant df usage to a group role instead'
            USING ERRCODE = '22023';
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
    EXECUTE format('REVOKE SELECT ON df.vars FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.nodes FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.instances FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE USAGE ON SCHEMA df FROM %I CASCADE', p_role);
    RAISE NOTICE 'pg_durable: revoked df usage privileges granted by "%" from "%"', current_user, p_role;
END
$fn$;

-- df._launch is now called only by df._start_instance, as its owner.
DELETE FROM df._usage_functions WHERE signature = 'df._launch(text,jsonb)';

-- Existing installs: take back every table write privilege on the control plane's tables, and
-- EXECUTE on df._launch, from every role that holds them (with CASCADE, so that what delegated
-- administrators passed on goes too; REVOKE by the owner or a superuser acts for the owner).
DO $do$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT c.oid::regclass AS tbl, a.grantee
          FROM pg_class c
         CROSS JOIN LATERAL (
               SELECT x.grantee, x.privilege_type FROM aclexplode(c.relacl) x
               UNION ALL
               SELECT x.grantee, x.privilege_type
                 FROM pg_attribute att, aclexplode(att.attacl) x
                WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL) a
         WHERE c.oid IN ('df.instances'::regclass, 'df.nodes'::regclass, 'df.vars'::regclass)
           AND a.grantee <> c.relowner
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %s CASCADE',
                       r.tbl, CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
    END LOOP;
    FOR r IN
        SELECT DISTINCT a.grantee
          FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = 'df._launch(text,jsonb)'::regprocedure AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION df._launch(text, jsonb) FROM %s CASCADE',
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
    END LOOP;
    -- Every grant descends from the owner's, so nothing may be left.
    IF EXISTS (SELECT 1
                 FROM pg_class c
                CROSS JOIN LATERAL (
                      SELECT x.grantee, x.privilege_type FROM aclexplode(c.relacl) x
                      UNION ALL
                      SELECT x.grantee, x.privilege_type
                        FROM pg_attribute att, aclexplode(att.attacl) x
                       WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL) a
                WHERE c.oid IN ('df.instances'::regclass, 'df.nodes'::regclass, 'df.vars'::regclass)
                  AND a.grantee <> c.relowner
                  AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')) THEN
        RAISE EXCEPTION 'could not revoke every write privilege on df.instances, df.nodes and df.vars; revoke them by hand and run the upgrade again';
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------------
-- Signal delivery without locks a worker needs.
--
-- df.signal used to lock the instance row (FOR UPDATE) to hand a signal to a wait, and held the
-- lock until its caller committed; a worker's turn that touched the instance (which batches
-- turns of many instances in one transaction) waited for it, and so did every instance in the
-- batch. Now df.signal only inserts: the signal goes into df.signal_buffer marked
-- needs_routing, and the worker matches it to a wait (df._route_signals, run by the worker's
-- signal router after the sender commits) under the instance row lock, which only the worker's
-- own short transactions take. A wait that starts still takes the oldest buffered signal
-- itself. The buffer no longer references df.instances: a foreign key check would take a KEY
-- SHARE lock on the instance row until the sender commits, which blocks deleting the instance.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE df.signal_buffer DROP CONSTRAINT signal_buffer_instance_id_fkey;
ALTER TABLE df.signal_buffer ADD COLUMN needs_routing boolean NOT NULL DEFAULT false;
CREATE INDEX signal_buffer_needs_routing_idx ON df.signal_buffer (instance_id) WHERE needs_routing;

-- What the foreign key's ON DELETE CASCADE did: buffered signals go with their instance.
CREATE FUNCTION df._delete_signals_of_deleted_instances() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    DELETE FROM df.signal_buffer b USING deleted_instances d WHERE b.instance_id = d.id;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION df._delete_signals_of_deleted_instances() FROM PUBLIC;
CREATE TRIGGER instances_delete_signals AFTER DELETE ON df.instances
    REFERENCING OLD TABLE AS deleted_instances
    FOR EACH STATEMENT EXECUTE FUNCTION df._delete_signals_of_deleted_instances();

CREATE OR REPLACE FUNCTION df._signal(p_instance_id text, p_signal_name text, p_data jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_inst    record;
    v_problem text;
BEGIN
    -- No lock: the signal is only inserted, and the worker routes it.
    SELECT i.status, i.submitted_by INTO v_inst FROM df.instances i WHERE i.id = p_instance_id;
    -- The session may act for the submitter (superusers and members of its role may).
    IF NOT FOUND OR NOT coalesce(pg_has_role(session_user, v_inst.submitted_by::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    IF v_inst.status IN ('completed', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'Instance % is %: signals can only be sent to pending or running instances',
            p_instance_id, v_inst.status USING ERRCODE = '55000';
    END IF;
    IF coalesce(btrim(p_signal_name), '') = '' THEN
        RAISE EXCEPTION 'Signal name cannot be empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_signal_name) > 500 THEN
        RAISE EXCEPTION 'df.signal(): signal name is % characters long; the limit is 500 characters',
            length(p_signal_name) USING ERRCODE = '54000';
    END IF;
    v_problem := df._signal_data_problem(p_data);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'df.signal(): %', v_problem USING ERRCODE = '54000';
    END IF;
    INSERT INTO df.signal_buffer (seq, instance_id, signal_name, data, needs_routing)
    VALUES (nextval('df.signal_seq'), p_instance_id, p_signal_name, p_data, true);
    PERFORM df_engine.wake();
END
$fn$;

CREATE OR REPLACE FUNCTION df.signal(instance_id text, signal_name text, signal_data text DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_data jsonb;
BEGIN
    IF btrim(instance_id) = '' THEN
        RAISE EXCEPTION 'Instance ID cannot be empty' USING ERRCODE = '22023';
    END IF;
    IF btrim(signal_name) = '' THEN
        RAISE EXCEPTION 'Signal name cannot be empty' USING ERRCODE = '22023';
    END IF;
    -- Looked up under row-level security: a role names only its own instances.
    IF NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = signal.instance_id) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', instance_id USING ERRCODE = '42704';
    END IF;
    IF octet_length(signal_data) > 16777216 THEN
        -- Not worth parsing: no JSON form of it can be within the limit of 1 MiB.
        RAISE EXCEPTION 'df.signal(): signal data is % bytes; the limit is 1048576 bytes (1 MiB) as JSON',
            octet_length(signal_data) USING ERRCODE = '54000';
    END IF;
    BEGIN
        v_data := signal_data::jsonb;
    EXCEPTION
        WHEN invalid_text_representation THEN
            v_data := to_jsonb(signal_data);
        WHEN statement_too_complex THEN
            RAISE EXCEPTION 'df.signal(): signal data is nested more than 100 levels deep; the limit is 100 levels'
                USING ERRCODE = '54000';
    END;
    PERFORM df._signal(instance_id, signal_name, v_data);
    RETURN 'OK';
END
$fn$;

-- Hands the oldest buffered signals named p_name to the oldest open waits for that name, as
-- long as there are both. The caller holds the instance row lock.
CREATE FUNCTION df._match_signals(p_instance_id text, p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_wait df.signal_waits%ROWTYPE;
    v_buf  df.signal_buffer%ROWTYPE;
BEGIN
    LOOP
        SELECT * INTO v_wait
          FROM df.signal_waits w
         WHERE w.instance_id = p_instance_id AND w.signal_name = p_name AND w.routed_seq IS NULL
         ORDER BY w.created_at, w.wait_key
         LIMIT 1;
        EXIT WHEN NOT FOUND;
        -- A wait whose engine instance has ended (cancelled branch) will never take it.
        IF NOT EXISTS (SELECT 1 FROM df_engine.instances e
                        WHERE e.id = v_wait.engine_instance AND NOT df_engine.is_terminal(e.status)) THEN
            DELETE FROM df.signal_waits w WHERE w.instance_id = v_wait.instance_id AND w.wait_key = v_wait.wait_key;
            CONTINUE;
        END IF;
        DELETE FROM df.signal_buffer b
         WHERE b.seq = (SELECT x.seq FROM df.signal_buffer x
                         WHERE x.instance_id = p_instance_id AND x.signal_name = p_name
                         ORDER BY x.seq LIMIT 1)
        RETURNING * INTO v_buf;
        EXIT WHEN NOT FOUND;
        UPDATE df.signal_waits w SET routed_seq = v_buf.seq, routed_data = v_buf.data
         WHERE w.instance_id = v_wait.instance_id AND w.wait_key = v_wait.wait_key;
        PERFORM df_engine.raise_event(v_wait.engine_instance, v_wait.event_name, v_buf.data::text);
    END LOOP;
END
$fn$;

-- Run by the worker (see io.pgdurable.graph.SignalRouter), in a transaction of its own: routes
-- the signals sent since the last run, for at most p_limit instances. An instance whose row is
-- locked (a turn is writing it) is skipped and counted in remaining, for the next run.
CREATE FUNCTION df._route_signals(p_limit integer, OUT routed integer, OUT remaining integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_inst record;
    v_name text;
BEGIN
    routed := 0;
    -- Signals whose instance was deleted while they were being sent: nobody can take them.
    DELETE FROM df.signal_buffer b
     WHERE b.needs_routing AND NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = b.instance_id);
    FOR v_inst IN
        SELECT i.id, i.status FROM df.instances i
         WHERE i.id IN (SELECT b.instance_id FROM df.signal_buffer b WHERE b.needs_routing)
         LIMIT p_limit
           FOR NO KEY UPDATE OF i SKIP LOCKED
    LOOP
        -- Signals still buffered when an instance ends are never delivered.
        IF v_inst.status NOT IN ('completed', 'failed', 'cancelled') THEN
            FOR v_name IN
                SELECT DISTINCT b.signal_name FROM df.signal_buffer b
                 WHERE b.instance_id = v_inst.id AND b.needs_routing
            LOOP
                PERFORM df._match_signals(v_inst.id, v_name);
            END LOOP;
        END IF;
        UPDATE df.signal_buffer b SET needs_routing = false WHERE b.instance_id = v_inst.id AND b.needs_routing;
        routed := routed + 1;
    END LOOP;
    SELECT count(DISTINCT b.instance_id) INTO remaining FROM df.signal_buffer b WHERE b.needs_routing;
END
$fn$;

-- The worker's side locks the instance row FOR NO KEY UPDATE now (it writes no key column),
-- which the foreign key checks of df.signal_waits' inserts do not wait for.
CREATE OR REPLACE FUNCTION df._begin_signal_wait(p_instance_id text, p_wait_key text, p_signal_name text,
                                                 p_engine_instance text, p_event_name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_buf df.signal_buffer%ROWTYPE;
BEGIN
    PERFORM 1 FROM df.instances WHERE id = p_instance_id FOR NO KEY UPDATE;
    DELETE FROM df.signal_buffer
     WHERE seq = (SELECT b.seq FROM df.signal_buffer b
                   WHERE b.instance_id = p_instance_id AND b.signal_name = p_signal_name
                   ORDER BY b.seq LIMIT 1)
    RETURNING * INTO v_buf;
    INSERT INTO df.signal_waits (instance_id, wait_key, signal_name, engine_instance, event_name,
                                 routed_seq, routed_data)
    VALUES (p_instance_id, p_wait_key, p_signal_name, p_engine_instance, p_event_name,
            v_buf.seq, v_buf.data)
    ON CONFLICT (instance_id, wait_key) DO NOTHING;
    IF v_buf.seq IS NOT NULL THEN
        PERFORM df_engine.raise_event(p_engine_instance, p_event_name, v_buf.data::text);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION df._end_signal_wait(p_instance_id text, p_wait_key text, p_timed_out boolean)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_wait df.signal_waits%ROWTYPE;
BEGIN
    PERFORM 1 FROM df.instances WHERE id = p_instance_id FOR NO KEY UPDATE;
    DELETE FROM df.signal_waits WHERE instance_id = p_instance_id AND wait_key = p_wait_key
    RETURNING * INTO v_wait;
    IF p_timed_out AND v_wait.routed_seq IS NOT NULL THEN
        PERFORM df._route_signal(p_instance_id, v_wait.signal_name, v_wait.routed_data, v_wait.routed_seq);
    END IF;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Privileges of the functions above
-- ---------------------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION df._signal_data_problem(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION df._check_vars_role(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION df._match_signals(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df._route_signals(integer) FROM PUBLIC;
-- The public functions run as their caller and call these; each checks for itself that the
-- session may act for the role it is asked to act for (schema USAGE on df is the gate, as for
-- df._signal).
GRANT EXECUTE ON FUNCTION df._start_instance(regrole, text, text, text[], text[], text[], text[], text[], text[]) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._setvar(regrole, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._getvar(regrole, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._unsetvar(regrole, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._clearvars(regrole) TO PUBLIC;

SELECT set_config('search_path', current_setting('pg_durable.installer_search_path'), true);
