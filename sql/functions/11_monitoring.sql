-- Monitoring API of the df control plane: df.list_instances (both overloads), df.instance_info,
-- df.instance_executions, df.instance_history, df.instance_nodes (both overloads), df.metrics and df.explain.
--
-- Everything here is SQL / PL/pgSQL, so an application backend never starts a JVM to monitor.
--
-- Visibility: the public functions are SECURITY INVOKER and read df.instances / df.nodes under
-- their row-level security, so a role sees only its own instances. Application roles have no
-- access to df_engine; the engine columns (orchestration name, generation, output, executions)
-- come from the SECURITY DEFINER helpers df._engine_info and df._engine_executions, which return
-- data only for instances whose submitter the calling role may act for
-- (pg_has_role(current_user, submitted_by, 'MEMBER'), the caller's current_user shown with its
-- key, see df._acts_as), whatever ids they are given.
--
-- Differences from the original pg_durable, on purpose:
-- * list_instances / instance_info keep an instance whose engine record is missing (engine columns
--   NULL) instead of silently dropping it; the basic list_instances orders by (created_at DESC, id)
--   so equal timestamps have a stable order.
-- * function_name is our engine's orchestration name, df.function_graph.
-- * df.explain evaluates a DSL expression as one read-only statement whose effects are rolled back,
--   and reports evaluation errors as text instead of raising.
-- * pg_durable.list_instances_max_limit is read from the server's configuration only (see
--   df._list_instances_max_limit), not from the session: the original's parameter may only be set
--   by a superuser, and here too a session cannot raise it for itself.

-- ---------------------------------------------------------------------------------------------
-- Small shared helpers
-- ---------------------------------------------------------------------------------------------

-- pg_durable.list_instances_max_limit as the configuration files set it (postgresql.conf, the
-- files it includes, and ALTER SYSTEM's postgresql.auto.conf), as they are now; NULL when they do
-- not. Reading pg_file_settings needs a superuser, the owner of this SECURITY DEFINER function;
-- with another owner the files are not consulted. It returns this one setting and nothing else.
CREATE OR REPLACE FUNCTION df._list_instances_max_limit_file() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_value text;
BEGIN
    IF NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), false) THEN
        RETURN NULL;
    END IF;
    SELECT f.setting INTO v_value
      FROM pg_catalog.pg_file_settings f
     WHERE pg_catalog.lower(f.name) = 'pg_durable.list_instances_max_limit' AND f.applied
     ORDER BY f.seqno DESC
     LIMIT 1;
    RETURN v_value;
END
$$;

-- A setting as ALTER ROLE / ALTER DATABASE ... SET give it to the current role in this database,
-- in PostgreSQL's own order of precedence: ALTER ROLE <role> IN DATABASE <this>, ALTER ROLE
-- <role>, ALTER DATABASE <this> (or ALTER ROLE ALL IN DATABASE), ALTER ROLE ALL. NULL when none
-- does; the configuration files come after these, and each caller reads them in its own way
-- (df._list_instances_max_limit_file, df_engine.reconcile_setting). Nothing a session does counts.
CREATE OR REPLACE FUNCTION df._role_setting(p_name text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT substr(o.opt, length(p_name) + 2)
      FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) AS o(opt)
     WHERE s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database()))
       AND s.setrole IN (0, (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user))
       AND pg_catalog.lower(split_part(o.opt, '=', 1)) = pg_catalog.lower(p_name)
     ORDER BY (s.setrole <> 0) DESC, (s.setdatabase <> 0) DESC
     LIMIT 1
$$;

-- pg_durable.list_instances_max_limit: unset or empty means the default, 1000; anything that is
-- not an integer in 1..1000000 is an error naming the setting and the value. The value is the
-- one the server's configuration gives the current role in this database, in PostgreSQL's own
-- order of precedence: ALTER ROLE <role> IN DATABASE <this> SET, ALTER ROLE <role> SET, ALTER
-- DATABASE <this> SET (or ALTER ROLE ALL IN DATABASE), ALTER ROLE ALL SET, then the configuration
-- files. For a name no loaded module defines, only a superuser may ALTER ROLE or DATABASE ... SET
-- it. What a session does (SET, SET LOCAL, a function's SET clause, connection options) is
-- ignored: the limit bounds what one call may cost the server, so the session must not raise it.
CREATE OR REPLACE FUNCTION df._list_instances_max_limit() RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_raw text;
    v_txt text;
BEGIN
    v_raw := coalesce(df._role_setting('pg_durable.list_instances_max_limit'), df._list_instances_max_limit_file());
    v_txt := btrim(v_raw);
    IF v_raw IS NULL OR v_txt = '' THEN
        RETURN 1000;
    END IF;
    IF v_txt !~ '^[+-]?[0-9]{1,7}$' OR v_txt::integer NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'pg_durable.list_instances_max_limit must be an integer between 1 and 1000000, got ''%''', v_raw
            USING ERRCODE = '22023';
    END IF;
    RETURN v_txt::integer;
END
$$;

CREATE OR REPLACE FUNCTION df._check_list_limit(p_limit integer) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_max integer;
BEGIN
    IF p_limit IS NULL THEN
        RAISE EXCEPTION 'limit_count must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF p_limit < 1 THEN
        RAISE EXCEPTION 'limit_count must be at least 1' USING ERRCODE = '22023';
    END IF;
    v_max := df._list_instances_max_limit();
    IF p_limit > v_max THEN
        RAISE EXCEPTION 'df.list_instances: limit_count (%) exceeds pg_durable.list_instances_max_limit (%); request fewer rows, or use the paginated df.list_instances overload (after_cursor/next_cursor) for large result sets', p_limit, v_max
            USING ERRCODE = '22023';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Engine lookups (SECURITY DEFINER: application roles cannot read df_engine)
-- ---------------------------------------------------------------------------------------------

-- Engine columns of the given df instances. An id yields a row only when the df instance exists,
-- its engine record exists, and the calling role p_role (shown with its key) may act for its
-- submitter, so passing someone else's ids reveals nothing.
CREATE OR REPLACE FUNCTION df._engine_info(p_ids text[], p_role regrole, p_key uuid)
RETURNS TABLE (id text, name text, status text, execution_id bigint, output text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.id, e.name, e.status, e.execution_id::bigint, e.output
      FROM df.instances i
      JOIN df_engine.instances e ON e.id = i.id::text
     WHERE i.id = ANY (p_ids)
       AND (SELECT df._acts_as(p_role, p_key))   -- once per call, not per row
       AND pg_catalog.pg_has_role(p_role::oid, i.submitted_by::oid, 'MEMBER')
$$;

-- Generations of one df instance, newest first, under the same rule as df._engine_info. The
-- running (or cancelled) generation's event count is read from its history, which the engine
-- only totals when a generation ends.
CREATE OR REPLACE FUNCTION df._engine_executions(p_instance_id text, p_limit integer, p_role regrole, p_key uuid)
RETURNS TABLE (execution_id bigint, status text, event_count bigint, duration_ms bigint, output text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.execution_id::bigint,
           x.status,
           CASE WHEN x.status IN ('Running', 'Cancelled')
                THEN (SELECT count(*) FROM df_engine.history h
                       WHERE h.instance_id = x.instance_id AND h.execution_id = x.execution_id)
                ELSE x.event_count::bigint
           END,
           CASE WHEN x.ended_at IS NULL THEN 0::bigint
                ELSE greatest(0, floor(extract(epoch FROM x.ended_at - x.started_at) * 1000))::bigint
           END,
           x.output
      FROM df.instances i
      JOIN df_engine.executions x ON x.instance_id = i.id::text
     WHERE i.id = p_instance_id
       AND (SELECT df._acts_as(p_role, p_key))   -- once per call, not per row
       AND pg_catalog.pg_has_role(p_role::oid, i.submitted_by::oid, 'MEMBER')
     ORDER BY x.execution_id DESC
     LIMIT p_limit
$$;

-- ---------------------------------------------------------------------------------------------
-- df.list_instances
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.list_instances(status_filter text DEFAULT NULL, limit_count integer DEFAULT 100)
RETURNS TABLE (instance_id text, label text, function_name text, status text,
               execution_count bigint, output text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM df._check_list_limit(limit_count);
    -- Dynamic SQL so each call is planned for the filter it actually has.
    RETURN QUERY EXECUTE format($q$
        WITH page AS (
            SELECT i.id::text AS id, i.label, i.status, i.created_at
              FROM df.instances i
             %s
             ORDER BY i.created_at DESC, i.id
             LIMIT $2)
        SELECT p.id, p.label, e.name, p.status, e.execution_id, e.output
          FROM page p
          LEFT JOIN df._engine_info(ARRAY(SELECT p2.id FROM page p2), quote_ident(current_user)::regrole, df._caller_key()) e ON e.id = p.id
         ORDER BY p.created_at DESC, p.id $q$,
        CASE WHEN status_filter IS NULL THEN '' ELSE 'WHERE i.status = $1' END)
    USING status_filter, limit_count;
END
$$;

-- The opaque keyset cursor: hex of UTF-8 'v1|<created_at as YYYY-MM-DD"T"HH24:MI:SS.USOF>|<id>'.
CREATE OR REPLACE FUNCTION df._decode_list_cursor(p_cursor text, OUT created_at timestamptz, OUT id text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_text text;
    v_rest text;
    v_ts   text;
BEGIN
    IF p_cursor = '' OR length(p_cursor) > 512 OR length(p_cursor) % 2 <> 0
       OR p_cursor !~ '^[0-9A-Fa-f]+$' THEN
        RAISE EXCEPTION 'df.list_instances: invalid after_cursor' USING ERRCODE = '22023';
    END IF;
    BEGIN
        v_text := convert_from(decode(p_cursor, 'hex'), 'UTF8');
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'df.list_instances: invalid after_cursor' USING ERRCODE = '22023';
    END;
    IF split_part(v_text, '|', 1) <> 'v1' OR strpos(v_text, '|') = 0 THEN
        RAISE EXCEPTION 'df.list_instances: invalid after_cursor' USING ERRCODE = '22023';
    END IF;
    v_rest := substr(v_text, 4);
    v_ts := split_part(v_rest, '|', 1);
    id := substr(v_rest, length(v_ts) + 2);
    IF strpos(v_rest, '|') = 0 OR v_ts = '' OR id = ''
       OR v_ts !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}[+-][0-9]{2}(:[0-9]{2})?$' THEN
        RAISE EXCEPTION 'df.list_instances: invalid after_cursor' USING ERRCODE = '22023';
    END IF;
    BEGIN
        created_at := v_ts::timestamptz;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'df.list_instances: invalid after_cursor' USING ERRCODE = '22023';
    END;
END
$$;

CREATE OR REPLACE FUNCTION df.list_instances(status_filter text, limit_count integer, label_filter text,
                                  after_cursor text DEFAULT NULL)
RETURNS TABLE (instance_id text, label text, function_name text, status text,
               execution_count bigint, output text, created_at timestamptz,
               completed_at timestamptz, next_cursor text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_after_ts timestamptz;
    v_after_id text;
    v_where    text := 'WHERE i.created_at IS NOT NULL';
BEGIN
    PERFORM df._check_list_limit(limit_count);
    IF after_cursor IS NOT NULL THEN
        SELECT c.created_at, c.id INTO v_after_ts, v_after_id FROM df._decode_list_cursor(after_cursor) c;
        -- Rows after the cursor in (created_at DESC, id) order; the leading bound lets the
        -- (created_at DESC, id) index serve the range.
        v_where := v_where || ' AND i.created_at <= $4 AND (i.created_at < $4 OR (i.created_at = $4 AND i.id > $5))';
    END IF;
    IF status_filter IS NOT NULL THEN
        v_where := v_where || ' AND i.status = $1';
    END IF;
    IF label_filter IS NOT NULL THEN
        v_where := v_where || ' AND i.label = $3';
    END IF;
    -- One row beyond the page tells whether a next page exists.
    RETURN QUERY EXECUTE format($q$
        WITH fetched AS (
            SELECT i.id::text AS id, i.label, i.status, i.created_at, i.completed_at
              FROM df.instances i
             %s
             ORDER BY i.created_at DESC, i.id
             LIMIT $2 + 1),
        numbered AS (
            SELECT f.*, row_number() OVER (ORDER BY f.created_at DESC, f.id) AS rn,
                   count(*) OVER () AS fetched_rows
              FROM fetched f),
        page AS (SELECT n.* FROM numbered n WHERE n.rn <= $2),
        next_page AS (
            SELECT encode(convert_to('v1|' || to_char(p.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.USOF')
                                     || '|' || p.id, 'UTF8'), 'hex') AS c
              FROM page p
             WHERE p.rn = $2 AND p.fetched_rows > $2)
        SELECT p.id, p.label, e.name, p.status, e.execution_id, e.output, p.created_at,
               p.completed_at, (SELECT k.c FROM next_page k)
          FROM page p
          LEFT JOIN df._engine_info(ARRAY(SELECT p2.id FROM page p2), quote_ident(current_user)::regrole, df._caller_key()) e ON e.id = p.id
         ORDER BY p.rn $q$, v_where)
    USING status_filter, limit_count, label_filter, v_after_ts, v_after_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- df.instance_info, df.instance_executions
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.instance_info(instance_id text)
RETURNS TABLE (instance_id text, label text, function_name text, function_version text,
               current_execution_id bigint, status text, output text)
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp
AS $$
    -- Our engine does not version orchestrations; every one reports version 1.0.0.
    SELECT i.id::text, i.label, e.name, CASE WHEN e.id IS NOT NULL THEN '1.0.0' END,
           e.execution_id, i.status, e.output
      FROM df.instances i
      LEFT JOIN df._engine_info(ARRAY[$1], quote_ident(current_user)::regrole, df._caller_key()) e ON e.id = i.id::text
     WHERE i.id = $1
$$;

CREATE OR REPLACE FUNCTION df.instance_executions(instance_id text, limit_count integer DEFAULT 5)
RETURNS TABLE (execution_id bigint, status text, event_count bigint, duration_ms bigint, output text)
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id text := instance_id;
BEGIN
    IF limit_count < 1 THEN
        RAISE EXCEPTION 'limit_count must be at least 1' USING ERRCODE = '22023';
    END IF;
    -- Visible under RLS, or nothing at all.
    IF NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = v_id) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT x.execution_id, x.status, x.event_count, x.duration_ms, x.output
                   FROM df._engine_executions(v_id, least(limit_count, 10000), quote_ident(current_user)::regrole,
                                                df._caller_key()) x;
END
$$;

-- The newest p_limit events of the current generation's history of one df instance (and of its
-- child orchestrations: join and race branches, loops), under the same rule as df._engine_info.
-- Payloads are clipped to p_clip characters; payload_length tells the whole length.
CREATE OR REPLACE FUNCTION df._engine_history(p_instance_id text, p_limit integer, p_clip integer,
                                              p_role regrole, p_key uuid)
RETURNS TABLE (orchestration text, execution_id bigint, seq bigint, event_type text, name text,
               event_time timestamptz, payload text, payload_length bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE tree (id) AS (
        SELECT e.id
          FROM df.instances i
          JOIN df_engine.instances e ON e.id = i.id::text
         WHERE i.id = p_instance_id
           AND (SELECT df._acts_as(p_role, p_key))   -- once per call, not per row
           AND pg_catalog.pg_has_role(p_role::oid, i.submitted_by::oid, 'MEMBER')
        UNION
        SELECT c.id FROM tree t JOIN df_engine.instances c ON c.parent_id = t.id
    )
    SELECT h.instance_id, h.execution_id::bigint, h.seq::bigint, h.event_type, h.name, h.event_time,
           left(h.payload, p_clip), length(h.payload)::bigint
      FROM tree t
      JOIN df_engine.history h ON h.instance_id = t.id
     ORDER BY h.event_time DESC, h.instance_id DESC, h.seq DESC
     LIMIT p_limit
$$;

-- The newest events of an instance's history (at most limit_count, 1 to 1,000), oldest first:
-- the engine's record of what its orchestrations did, for the dashboard's timeline. Its own
-- instances only (row-level security), like df.instance_executions.
CREATE OR REPLACE FUNCTION df.instance_history(instance_id text, limit_count integer DEFAULT 200)
RETURNS TABLE (orchestration text, execution_id bigint, seq bigint, event_type text, name text,
               event_time timestamptz, payload text, payload_length bigint)
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id text := instance_id;
BEGIN
    IF limit_count < 1 OR limit_count > 1000 THEN
        RAISE EXCEPTION 'df.instance_history: limit_count must be between 1 and 1000, got %', limit_count
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = v_id) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT x.* FROM df._engine_history(v_id, limit_count, 2000, quote_ident(current_user)::regrole,
                                                    df._caller_key()) x
                  ORDER BY x.event_time, x.orchestration, x.seq;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Node status inference (shared by df.instance_nodes and df.explain)
-- ---------------------------------------------------------------------------------------------

-- The lineage of a node stamp '<orchestration id>::<generation>', where a child orchestration's
-- id is '<parent id>::<parent generation>::<node id>'. scopes[1]/gens[1] are the stamping
-- orchestration and its generation, scopes[k+1]/gens[k+1] the spawning generation one level up.
-- NULL when the stamp is malformed.
CREATE OR REPLACE FUNCTION df._stamp_lineage(p_stamp text, OUT scopes text[], OUT gens bigint[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tok text[] := string_to_array(p_stamp, '::');
    v_len integer := coalesce(cardinality(v_tok), 0);
    j     integer;
BEGIN
    IF v_len < 2 OR v_len % 2 <> 0 OR v_tok[1] = '' THEN
        RETURN;
    END IF;
    FOR j IN 2 .. v_len LOOP
        IF j % 2 = 0 THEN
            IF v_tok[j] !~ '^[+-]?[0-9]+$'
               OR v_tok[j]::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
                RETURN;
            END IF;
        ELSIF v_tok[j] = '' THEN
            RETURN;
        END IF;
    END LOOP;
    scopes := '{}';
    gens := '{}';
    j := v_len;
    WHILE j >= 2 LOOP
        scopes := scopes || array_to_string(v_tok[1:j - 1], '::');
        gens := gens || v_tok[j]::bigint;
        j := j - 2;
    END LOOP;
END
$$;

-- A node left running by a cancelled instance is inferred 'cancelled': its statement was
-- cancelled, its wait or timer deleted, and it will never finish. Otherwise as in 003.
CREATE OR REPLACE FUNCTION df._node_statuses(p_instance_id text)
RETURNS TABLE (node_id text, node_type text, query text, result_name text, left_node text,
               right_node text, status text, result text, status_details text,
               updated_at timestamptz, inferred_status text,
               inferred_status_from_ancestor_id text, walk_position bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE
root AS (
    SELECT i.root_node::text AS id, i.status AS instance_status
      FROM df.instances i WHERE i.id = p_instance_id
),
raw AS (
    SELECT n.id::text AS id, n.node_type, n.query, n.result_name, n.left_node::text AS l,
           n.right_node::text AS r, n.status, n.result, n.status_details, n.updated_at,
           CASE WHEN upper(n.node_type) IN ('IF', 'LOOP', 'JOIN') THEN df._try_json(n.query) END AS cfg,
           CASE WHEN jsonb_typeof(n.status_details -> 'execution_id') = 'string'
                THEN n.status_details ->> 'execution_id' END AS stamp
      FROM df.nodes n
     WHERE n.instance_id = p_instance_id
),
node0 AS (
    SELECT raw.*, lin.scopes, lin.gens, lin.gens[1] AS gen,
           coalesce(raw.status IN ('completed', 'failed'), false) AS terminal,
           array_remove(CASE upper(raw.node_type)
               WHEN 'THEN' THEN ARRAY[raw.l, raw.r]
               WHEN 'RACE' THEN ARRAY[raw.l, raw.r]
               WHEN 'JOIN' THEN ARRAY[raw.l, raw.r] || ARRAY(
                   SELECT x #>> '{}'
                     FROM json_array_elements(CASE WHEN json_typeof(raw.cfg -> 'extra_nodes') = 'array'
                                                   THEN raw.cfg -> 'extra_nodes' END) WITH ORDINALITY AS e(x, k)
                    WHERE json_typeof(x) = 'string'
                    ORDER BY k)
               WHEN 'IF' THEN ARRAY[CASE WHEN json_typeof(raw.cfg -> 'condition_node') = 'string'
                                         THEN raw.cfg ->> 'condition_node' END, raw.l, raw.r]
               WHEN 'LOOP' THEN ARRAY[raw.l, CASE WHEN json_typeof(raw.cfg -> 'condition_node') = 'string'
                                                  THEN raw.cfg ->> 'condition_node' END]
           END, NULL) AS kids
      FROM raw
      LEFT JOIN LATERAL df._stamp_lineage(raw.stamp) lin ON true
),
levels AS (
    SELECT n.id, u.scope, u.gen, u.level
      FROM node0 n
     CROSS JOIN LATERAL unnest(n.scopes, n.gens) WITH ORDINALITY AS u(scope, gen, level)
),
scope_max AS (
    SELECT l.scope, max(l.gen) AS max_gen FROM levels l WHERE l.level = 1 GROUP BY l.scope
),
superseded AS (
    -- A newer generation exists in the node's own scope or in a scope it was spawned from.
    SELECT DISTINCT l.id
      FROM levels l
      JOIN scope_max m ON m.scope = l.scope
     WHERE m.max_gen > l.gen
),
node AS (
    SELECT n.*, s.id IS NOT NULL AS superseded
      FROM node0 n
      LEFT JOIN superseded s ON s.id = n.id
),
walk (id, nta, anc_gen, anc_id, path) AS (
    SELECT n.id, NULL::text, NULL::bigint, NULL::text, ARRAY[]::integer[]
      FROM root JOIN node n ON n.id = root.id
    UNION ALL
    SELECT c.kid,
           CASE WHEN p.terminal AND NOT p.superseded THEN p.id ELSE w.nta END,
           CASE WHEN p.gen IS NOT NULL AND (w.anc_gen IS NULL OR p.gen >= w.anc_gen)
                THEN p.gen ELSE w.anc_gen END,
           CASE WHEN p.gen IS NOT NULL AND (w.anc_gen IS NULL OR p.gen >= w.anc_gen)
                THEN p.id ELSE w.anc_id END,
           w.path || c.pos::integer
      FROM walk w
      JOIN node p ON p.id = w.id
     CROSS JOIN LATERAL unnest(p.kids) WITH ORDINALITY AS c(kid, pos)
) CYCLE id SET is_cycle USING visited,
reached AS (
    -- A node reachable along several paths (never the case for graphs built by df.start) is
    -- judged by its first path in pre-order.
    SELECT DISTINCT ON (w.id) w.id, w.nta, w.anc_id, w.path
      FROM walk w
     WHERE NOT w.is_cycle
     ORDER BY w.id, w.path
)
SELECT n.id, n.node_type, n.query, n.result_name, n.l, n.r, n.status, n.result::text,
       n.status_details::text, n.updated_at,
       CASE WHEN w.id IS NULL THEN coalesce(n.status, 'pending')
            WHEN n.terminal AND NOT n.superseded THEN n.status
            WHEN n.terminal THEN CASE WHEN w.nta IS NOT NULL THEN 'skipped' ELSE 'pending' END
            WHEN w.nta IS NOT NULL THEN 'skipped'
            WHEN n.status = 'running' AND (SELECT r.instance_status FROM root r) = 'cancelled' THEN 'cancelled'
            WHEN n.status = 'running' THEN 'running'
            ELSE 'pending'
       END,
       CASE WHEN w.id IS NULL OR (n.terminal AND NOT n.superseded) THEN NULL
            WHEN n.terminal THEN coalesce(w.nta, w.anc_id)
            ELSE w.nta
       END,
       row_number() OVER (ORDER BY w.path IS NULL, w.path, n.id)
  FROM node n
  LEFT JOIN reached w ON w.id = n.id
 ORDER BY 13
$$;

CREATE OR REPLACE FUNCTION df.instance_nodes(instance_id_param text)
RETURNS TABLE (node_id text, node_type text, query text, result_name text, left_node text,
               right_node text, status text, result text, status_details text,
               inferred_status text, inferred_status_from_ancestor_id text,
               updated_at timestamptz)
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.node_id, s.node_type, s.query, s.result_name, s.left_node, s.right_node, s.status,
           s.result, s.status_details, s.inferred_status, s.inferred_status_from_ancestor_id,
           s.updated_at
      FROM df._node_statuses($1) s
     ORDER BY s.walk_position
$$;

-- The pre-0.2.4 shape: no inference, execution_id always 1, the second argument ignored.
CREATE OR REPLACE FUNCTION df.instance_nodes(instance_id_param text, _last_n_executions integer)
RETURNS TABLE (execution_id bigint, node_id text, node_type text, query text, result_name text,
               left_node text, right_node text, status text, result text,
               updated_at timestamptz)
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 1::bigint, n.id::text, n.node_type, n.query, n.result_name, n.left_node::text,
           n.right_node::text, n.status, n.result::text, n.updated_at
      FROM df.nodes n
     WHERE n.instance_id = $1
     ORDER BY n.created_at, n.id
$$;

-- ---------------------------------------------------------------------------------------------
-- df.metrics (admin only)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.metrics()
RETURNS TABLE (total_instances bigint, running_instances bigint, completed_instances bigint,
               failed_instances bigint, total_executions bigint, total_events bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.total, d.running, d.completed, d.failed, x.executions, x.events
      FROM (SELECT count(*) AS total,
                   count(*) FILTER (WHERE i.status = 'running') AS running,
                   count(*) FILTER (WHERE i.status = 'completed') AS completed,
                   count(*) FILTER (WHERE i.status = 'failed') AS failed
              FROM df.instances i) d,
           (SELECT count(*) AS executions,
                   coalesce(sum(CASE WHEN e.status IN ('Running', 'Cancelled')
                                     THEN (SELECT count(*) FROM df_engine.history h
                                            WHERE h.instance_id = e.instance_id
                                              AND h.execution_id = e.execution_id)
                                     ELSE e.event_count END), 0)::bigint AS events
              FROM df_engine.executions e) x
$$;
REVOKE ALL ON FUNCTION df.metrics() FROM PUBLIC;
