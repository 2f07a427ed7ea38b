-- Monitoring API of the df control plane: df.list_instances (both overloads), df.instance_info,
-- df.instance_executions, df.instance_nodes (both overloads), df.metrics and df.explain.
--
-- Everything here is SQL / PL/pgSQL, so an application backend never starts a JVM to monitor.
--
-- Visibility: the public functions are SECURITY INVOKER and read df.instances / df.nodes under
-- their row-level security, so a role sees only its own instances. Application roles have no
-- access to df_engine; the engine columns (orchestration name, generation, output, executions)
-- come from the SECURITY DEFINER helpers df._engine_info and df._engine_executions, which return
-- data only for instances whose submitter the session's login role may act for
-- (pg_has_role(session_user, submitted_by, 'MEMBER')), whatever ids they are given.
--
-- Differences from the original pg_durable, on purpose:
-- * list_instances / instance_info keep an instance whose engine record is missing (engine columns
--   NULL) instead of silently dropping it; the basic list_instances orders by (created_at DESC, id)
--   so equal timestamps have a stable order.
-- * function_name is our engine's orchestration name, df.function_graph.
-- * df.explain evaluates a DSL expression as one read-only statement whose effects are rolled back,
--   and reports evaluation errors as text instead of raising.
-- * pg_durable.list_instances_max_limit is read with current_setting(), so unlike the original's
--   superuser-only parameter any session may change it for itself; it bounds a role's own
--   listing, it is not a security boundary.

-- ---------------------------------------------------------------------------------------------
-- Small shared helpers
-- ---------------------------------------------------------------------------------------------

-- pg_durable.list_instances_max_limit: unset or empty means the default, 1000; anything that is
-- not an integer in 1..1000000 is an error naming the setting and the value.
CREATE FUNCTION df._list_instances_max_limit() RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_raw text := current_setting('pg_durable.list_instances_max_limit', true);
    v_txt text := btrim(v_raw);
BEGIN
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

CREATE FUNCTION df._check_list_limit(p_limit integer) RETURNS void
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
-- its engine record exists, and the session's login role may act for its submitter, so passing
-- someone else's ids reveals nothing.
CREATE FUNCTION df._engine_info(p_ids text[])
RETURNS TABLE (id text, name text, status text, execution_id bigint, output text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.id, e.name, e.status, e.execution_id::bigint, e.output
      FROM df.instances i
      JOIN df_engine.instances e ON e.id = i.id::text
     WHERE i.id = ANY (p_ids)
       AND pg_catalog.pg_has_role(session_user, i.submitted_by::oid, 'MEMBER')
$$;

-- Generations of one df instance, newest first, under the same rule as df._engine_info. The
-- running (or cancelled) generation's event count is read from its history, which the engine
-- only totals when a generation ends.
CREATE FUNCTION df._engine_executions(p_instance_id text, p_limit integer)
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
       AND pg_catalog.pg_has_role(session_user, i.submitted_by::oid, 'MEMBER')
     ORDER BY x.execution_id DESC
     LIMIT p_limit
$$;

-- ---------------------------------------------------------------------------------------------
-- df.list_instances
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.list_instances(status_filter text DEFAULT NULL, limit_count integer DEFAULT 100)
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
          LEFT JOIN df._engine_info(ARRAY(SELECT p2.id FROM page p2)) e ON e.id = p.id
         ORDER BY p.created_at DESC, p.id $q$,
        CASE WHEN status_filter IS NULL THEN '' ELSE 'WHERE i.status = $1' END)
    USING status_filter, limit_count;
END
$$;

-- The opaque keyset cursor: hex of UTF-8 'v1|<created_at as YYYY-MM-DD"T"HH24:MI:SS.USOF>|<id>'.
CREATE FUNCTION df._decode_list_cursor(p_cursor text, OUT created_at timestamptz, OUT id text)
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

CREATE FUNCTION df.list_instances(status_filter text, limit_count integer, label_filter text,
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
          LEFT JOIN df._engine_info(ARRAY(SELECT p2.id FROM page p2)) e ON e.id = p.id
         ORDER BY p.rn $q$, v_where)
    USING status_filter, limit_count, label_filter, v_after_ts, v_after_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- df.instance_info, df.instance_executions
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df.instance_info(instance_id text)
RETURNS TABLE (instance_id text, label text, function_name text, function_version text,
               current_execution_id bigint, status text, output text)
LANGUAGE sql STRICT SET search_path = pg_catalog, pg_temp
AS $$
    -- Our engine does not version orchestrations; every one reports version 1.0.0.
    SELECT i.id::text, i.label, e.name, CASE WHEN e.id IS NOT NULL THEN '1.0.0' END,
           e.execution_id, i.status, e.output
      FROM df.instances i
      LEFT JOIN df._engine_info(ARRAY[$1]) e ON e.id = i.id::text
     WHERE i.id = $1
$$;

CREATE FUNCTION df.instance_executions(instance_id text, limit_count integer DEFAULT 5)
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
                   FROM df._engine_executions(v_id, least(limit_count, 10000)) x;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Node status inference (shared by df.instance_nodes and df.explain)
-- ---------------------------------------------------------------------------------------------

-- The lineage of a node stamp '<orchestration id>::<generation>', where a child orchestration's
-- id is '<parent id>::<parent generation>::<node id>'. scopes[1]/gens[1] are the stamping
-- orchestration and its generation, scopes[k+1]/gens[k+1] the spawning generation one level up.
-- NULL when the stamp is malformed.
CREATE FUNCTION df._stamp_lineage(p_stamp text, OUT scopes text[], OUT gens bigint[])
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

-- Every visible node of an instance with its stored columns and its inferred status:
-- * terminal (completed/failed) in the current generation: the stored status;
-- * terminal in a superseded generation (a newer generation exists in its scope or in a scope it
--   was spawned from): 'skipped' under a current terminal ancestor, else 'pending' (it will run
--   again), with the highest-generation stamped ancestor as the deciding ancestor;
-- * not terminal below a current terminal ancestor: 'skipped' (untaken IF arm, right side of a
--   failed THEN, RACE loser, anything under a finished node);
-- * otherwise 'running' when stored running, else 'pending'.
-- Nodes not reachable from the root keep their stored status. Rows come in pre-order from the root
-- (walk_position), unreachable nodes last.
CREATE FUNCTION df._node_statuses(p_instance_id text)
RETURNS TABLE (node_id text, node_type text, query text, result_name text, left_node text,
               right_node text, status text, result text, status_details text,
               updated_at timestamptz, inferred_status text,
               inferred_status_from_ancestor_id text, walk_position bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE
root AS (
    SELECT i.root_node::text AS id FROM df.instances i WHERE i.id = p_instance_id
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

CREATE FUNCTION df.instance_nodes(instance_id_param text)
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
CREATE FUNCTION df.instance_nodes(instance_id_param text, _last_n_executions integer)
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

CREATE FUNCTION df.metrics()
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

-- ---------------------------------------------------------------------------------------------
-- df.explain
-- ---------------------------------------------------------------------------------------------

-- p_text if it has at most p_max bytes, else its longest prefix of at most p_keep bytes + '...'.
CREATE FUNCTION df._explain_clip(p_text text, p_max integer, p_keep integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := p_keep;
BEGIN
    IF octet_length(p_text) <= p_max THEN
        RETURN p_text;
    END IF;
    WHILE octet_length(left(p_text, n)) > p_keep LOOP
        n := n - 1;
    END LOOP;
    RETURN left(p_text, n) || '...';
END
$$;

-- The one-line label of a node.
CREATE FUNCTION df._explain_label(p_type text, p_query text, p_name text, p_left text, p_right text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_suffix text := CASE WHEN p_name IS NOT NULL THEN ' |=> ''' || p_name || '''' ELSE '' END;
    v_cfg    json;
    v_str    text;
    v_count  integer;
BEGIN
    IF p_type NOT IN ('SQL', 'SLEEP', 'THEN', 'IF') THEN
        v_cfg := df._try_json(p_query);
    END IF;
    CASE p_type
    WHEN 'SQL' THEN
        RETURN 'SQL: ' || df._explain_clip(coalesce(p_query, '?'), 50, 47) || v_suffix;
    WHEN 'SLEEP' THEN
        RETURN 'SLEEP ' || coalesce(p_query, '?') || 's' || v_suffix;
    WHEN 'WAIT_SCHEDULE' THEN
        RETURN 'WAIT ''' || CASE WHEN json_typeof(v_cfg -> 'cron_expr') = 'string'
                                THEN v_cfg ->> 'cron_expr' ELSE '?' END || '''' || v_suffix;
    WHEN 'HTTP', 'HTTP_MULTIPART' THEN
        IF v_cfg IS NULL THEN
            RETURN p_type || ' ? ?' || v_suffix;
        END IF;
        RETURN p_type || ' '
            || CASE WHEN json_typeof(v_cfg -> 'method') = 'string' THEN v_cfg ->> 'method' ELSE 'POST' END
            || ' '
            || df._explain_clip(CASE WHEN json_typeof(v_cfg -> 'url') = 'string'
                                     THEN v_cfg ->> 'url' ELSE '?' END, 40, 37)
            || v_suffix;
    WHEN 'SIGNAL' THEN
        v_str := CASE WHEN json_typeof(v_cfg -> 'signal_name') = 'string'
                      THEN v_cfg ->> 'signal_name' ELSE '?' END;
        RETURN 'SIGNAL ''' || v_str || ''''
            || CASE WHEN json_typeof(v_cfg -> 'timeout_seconds') = 'number'
                         AND (v_cfg ->> 'timeout_seconds') ~ '^-?[0-9]{1,18}$'
                    THEN ' (' || (v_cfg ->> 'timeout_seconds') || 's)' ELSE '' END
            || v_suffix;
    WHEN 'LOOP' THEN
        RETURN CASE WHEN json_typeof(v_cfg -> 'condition_node') = 'string'
                    THEN 'LOOP (while)' ELSE 'LOOP (infinite)' END || v_suffix;
    WHEN 'BREAK' THEN
        IF json_typeof(v_cfg -> 'break_value') = 'string' THEN
            RETURN 'BREAK ''' || df._explain_clip(v_cfg ->> 'break_value', 20, 17) || '''' || v_suffix;
        END IF;
        RETURN 'BREAK' || v_suffix;
    WHEN 'IF' THEN
        RETURN 'IF' || v_suffix;
    WHEN 'JOIN' THEN
        v_count := (p_left IS NOT NULL)::integer + (p_right IS NOT NULL)::integer
                 + CASE WHEN json_typeof(v_cfg -> 'extra_nodes') = 'array'
                        THEN json_array_length(v_cfg -> 'extra_nodes') ELSE 0 END;
        RETURN 'JOIN (' || v_count || ')' || v_suffix;
    WHEN 'THEN' THEN
        RETURN 'SEQUENCE';
    ELSE
        RETURN p_type;
    END CASE;
END
$$;

-- Renders the tree below p_root. p_nodes maps node id -> {"t": type, "q": query, "n": result
-- name, "l": left id, "r": right id, "s": status}; with p_show_status each line gets the status
-- marker. A THEN chain is flattened into one sequence ('→ ' between items); compound items render
-- their children indented below them. Every line is right-padded to the longest line + 4.
CREATE FUNCTION df._explain_render(p_root text, p_nodes jsonb, p_show_status boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Work stack: kind 'L' = emit line text, kind 'N' = render node id at prefix (last = is_last).
    st_kind   text[] := ARRAY['N'];
    st_text   text[] := ARRAY[p_root];
    st_prefix text[] := ARRAY[''];
    st_last   boolean[] := ARRAY[true];
    top       integer := 1;
    -- Items produced by one node, in output order, pushed onto the stack reversed.
    it_kind   text[];
    it_text   text[];
    it_prefix text[];
    it_last   boolean[];
    lines     text[] := '{}';
    expansions integer := 0;
    v_kind    text;
    v_id      text;
    v_prefix  text;
    v_last    boolean;
    v_node    jsonb;
    v_conn    text;
    v_seq     text[];
    v_item    jsonb;
    v_cfg     json;
    v_cprefix text;
    v_branch  text[];
    v_out     text;
    v_width   integer;
    i         integer;
BEGIN
    WHILE top > 0 LOOP
        v_kind := st_kind[top]; v_id := st_text[top]; v_prefix := st_prefix[top]; v_last := st_last[top];
        top := top - 1;
        IF v_kind = 'L' THEN
            lines := lines || v_id;
            CONTINUE;
        END IF;
        v_node := p_nodes -> v_id;
        IF v_node IS NULL THEN
            CONTINUE;
        END IF;
        -- Graphs built by df.start are trees of at most 10,000 nodes; this only stops a
        -- hand-made cycle.
        expansions := expansions + 1;
        IF expansions > 100000 THEN
            RETURN 'Cannot explain: the graph is cyclic or too large to render';
        END IF;
        v_conn := CASE WHEN v_prefix = '' THEN '' WHEN v_last THEN '└─' ELSE '├─' END;
        it_kind := '{}'; it_text := '{}'; it_prefix := '{}'; it_last := '{}';

        IF v_node ->> 't' = 'THEN' THEN
            v_seq := df._explain_sequence(v_id, p_nodes);
        ELSE
            v_seq := ARRAY[v_id];
        END IF;
        FOR i IN 1 .. cardinality(v_seq) LOOP
            v_item := p_nodes -> v_seq[i];
            it_kind := it_kind || 'L'::text;
            it_text := it_text || (v_prefix
                || CASE WHEN i = 1 THEN v_conn ELSE '→ ' END
                || df._explain_label(v_item ->> 't', v_item ->> 'q', v_item ->> 'n', v_item ->> 'l', v_item ->> 'r')
                || CASE WHEN p_show_status THEN
                        CASE v_item ->> 's' WHEN 'completed' THEN ' ✓' WHEN 'failed' THEN ' ✗'
                             WHEN 'running' THEN ' ⏳' WHEN 'pending' THEN ' ○'
                             WHEN 'skipped' THEN ' ⊘' ELSE '' END
                   ELSE '' END);
            it_prefix := it_prefix || ''::text; it_last := it_last || false;

            IF v_node ->> 't' = 'THEN' THEN
                IF v_item ->> 't' IN ('THEN', 'SQL', 'SLEEP', 'WAIT_SCHEDULE', 'HTTP', 'HTTP_MULTIPART') THEN
                    CONTINUE;
                END IF;
                v_cprefix := v_prefix || '    ';
            ELSIF v_prefix = '' THEN
                v_cprefix := '    ';
            ELSIF v_last THEN
                v_cprefix := v_prefix || '    ';
            ELSE
                v_cprefix := v_prefix || '│   ';
            END IF;

            -- Children of the item.
            CASE v_item ->> 't'
            WHEN 'LOOP' THEN
                v_cfg := df._try_json(v_item ->> 'q');
                IF v_item ->> 'l' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '↻ body:', v_item ->> 'l'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF json_typeof(v_cfg -> 'condition_node') = 'string' THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '? while:', v_cfg ->> 'condition_node'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
            WHEN 'IF' THEN
                v_cfg := df._try_json(v_item ->> 'q');
                IF json_typeof(v_cfg -> 'condition_node') = 'string' THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '? condition:', v_cfg ->> 'condition_node'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF v_item ->> 'l' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '✓ then:', v_item ->> 'l'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF v_item ->> 'r' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '✗ else:', v_item ->> 'r'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
            WHEN 'JOIN', 'RACE' THEN
                v_branch := array_remove(ARRAY[v_item ->> 'l', v_item ->> 'r'], NULL);
                IF v_item ->> 't' = 'JOIN' THEN
                    v_cfg := df._try_json(v_item ->> 'q');
                    IF json_typeof(v_cfg -> 'extra_nodes') = 'array' THEN
                        v_branch := v_branch || ARRAY(
                            SELECT x #>> '{}' FROM json_array_elements(v_cfg -> 'extra_nodes') WITH ORDINALITY AS e(x, k)
                             WHERE json_typeof(x) = 'string' ORDER BY k);
                    END IF;
                END IF;
                FOR j IN 1 .. coalesce(cardinality(v_branch), 0) LOOP
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '║ branch ' || j || ':', v_branch[j]];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, j = cardinality(v_branch)];
                END LOOP;
            ELSE
                NULL;
            END CASE;
        END LOOP;

        FOR i IN REVERSE coalesce(cardinality(it_kind), 0) .. 1 LOOP
            top := top + 1;
            st_kind[top] := it_kind[i]; st_text[top] := it_text[i];
            st_prefix[top] := it_prefix[i]; st_last[top] := it_last[i];
        END LOOP;
    END LOOP;

    -- Labels may contain line breaks: lay out the text as a whole, then pad every line.
    v_out := regexp_replace(array_to_string(lines, E'\n'), '\s+$', '');
    IF v_out = '' THEN
        RETURN '';
    END IF;
    lines := string_to_array(v_out, E'\n');
    SELECT max(char_length(regexp_replace(l, E'\r$', ''))) + 4 INTO v_width FROM unnest(lines) AS u(l);
    RETURN (SELECT string_agg(rpad(regexp_replace(l, E'\r$', ''), v_width), E'\n' ORDER BY k)
              FROM unnest(lines) WITH ORDINALITY AS u(l, k));
END
$$;

-- The items of a THEN chain in execution order (nested THENs flattened, missing nodes skipped).
CREATE FUNCTION df._explain_sequence(p_id text, p_nodes jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_todo text[] := ARRAY[p_id];
    v_top  integer := 1;
    v_seq  text[] := '{}';
    v_id   text;
    v_node jsonb;
BEGIN
    WHILE v_top > 0 LOOP
        v_id := v_todo[v_top];
        v_top := v_top - 1;
        v_node := p_nodes -> v_id;
        IF v_node IS NULL THEN
            CONTINUE;
        END IF;
        IF v_node ->> 't' = 'THEN' THEN
            IF cardinality(v_seq) + v_top > 200000 THEN
                RETURN v_seq;  -- only a hand-made cycle gets here
            END IF;
            IF v_node ->> 'r' IS NOT NULL THEN
                v_top := v_top + 1; v_todo[v_top] := v_node ->> 'r';
            END IF;
            IF v_node ->> 'l' IS NOT NULL THEN
                v_top := v_top + 1; v_todo[v_top] := v_node ->> 'l';
            END IF;
        ELSE
            v_seq := v_seq || v_id;
        END IF;
    END LOOP;
    RETURN v_seq;
END
$$;

-- Dry-run explain of a graph: validates and flattens it the way df.start materialises a graph
-- (pre-order; ids N1, N2, ... for display only) and renders it without status markers. Like the
-- original, structural completeness (a THEN with both children, ...) is not checked here.
CREATE FUNCTION df._explain_graph(p_root df._node) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_max_depth constant integer := 256;
    c_max_nodes constant integer := 10000;
    s_node   df._node[] := ARRAY[p_root];
    s_id     text[] := ARRAY['N1'];
    s_depth  integer[] := ARRAY[0];
    s_path   text[] := ARRAY['root'];
    v_top    integer := 1;
    v_count  integer := 1;
    o_id     text[] := '{}';
    o_type   text[] := '{}';
    o_query  text[] := '{}';
    o_name   text[] := '{}';
    o_left   text[] := '{}';
    o_right  text[] := '{}';
    v_node   df._node;
    v_id     text;
    v_depth  integer;
    v_path   text;
    v_config json;
    v_query  text;
    v_problem text;
    k_raw    text[];
    k_seg    text[];
    k_node   df._node[];
    k_id     text[];
    v_child  df._node;
    v_left   text;
    v_right  text;
    v_cond   text;
    v_extras text[];
    v_nodes  jsonb;
BEGIN
    WHILE v_top > 0 LOOP
        v_node := s_node[v_top];
        v_id := s_id[v_top];
        v_depth := s_depth[v_top];
        v_path := s_path[v_top];
        v_top := v_top - 1;

        v_config := NULL;
        v_problem := df._graph_node_problem(v_node, v_depth);
        IF v_problem IS NULL AND v_node.node_type IN ('IF', 'LOOP', 'JOIN') THEN
            v_config := df._try_json(v_node.query);
        END IF;
        IF v_problem IS NOT NULL THEN
            RETURN format('Invalid durable function graph: %s: %s', v_path, v_problem);
        END IF;

        -- Children in discovery order: left, right, condition, extras.
        k_raw := '{}';
        k_seg := '{}';
        IF v_node.left_node IS NOT NULL THEN
            k_raw := k_raw || v_node.left_node;
            k_seg := k_seg || 'left'::text;
        END IF;
        IF v_node.right_node IS NOT NULL THEN
            k_raw := k_raw || v_node.right_node;
            k_seg := k_seg || 'right'::text;
        END IF;
        IF v_node.condition_node IS NOT NULL THEN
            k_raw := k_raw || v_node.condition_node;
            k_seg := k_seg || 'condition_node'::text;
        END IF;
        FOR e IN 1 .. coalesce(cardinality(v_node.extra_nodes), 0) LOOP
            k_raw := k_raw || v_node.extra_nodes[e];
            k_seg := k_seg || format('extra_nodes[%s]', e - 1);
        END LOOP;
        k_node := '{}';
        k_id := '{}';
        v_left := NULL;
        v_right := NULL;
        v_cond := NULL;
        v_extras := '{}';
        FOR k IN 1 .. cardinality(k_raw) LOOP
            IF v_count >= c_max_nodes THEN
                RETURN format('Invalid durable function graph: %s.%s: Workflow exceeds maximum node count of %s. Simplify the workflow or break it into multiple instances.',
                              v_path, k_seg[k], c_max_nodes);
            END IF;
            v_child := df._decode_node(k_raw[k]::json);
            IF v_child.problem IS NOT NULL THEN
                RETURN format('Invalid durable function graph: %s.%s: failed to deserialize Durofut child: %s',
                              v_path, k_seg[k], v_child.problem);
            END IF;
            v_count := v_count + 1;
            k_node[k] := v_child;
            k_id[k] := 'N' || v_count;
            CASE k_seg[k]
                WHEN 'left' THEN v_left := k_id[k];
                WHEN 'right' THEN v_right := k_id[k];
                WHEN 'condition_node' THEN v_cond := k_id[k];
                ELSE v_extras := v_extras || k_id[k];
            END CASE;
        END LOOP;

        -- A condition or extra children are referenced from the query's JSON config, as in
        -- df.nodes.
        v_query := v_node.query;
        IF v_cond IS NOT NULL OR cardinality(v_extras) > 0 THEN
            IF v_query IS NOT NULL AND v_config IS NULL THEN
                BEGIN
                    PERFORM v_query::json;
                EXCEPTION WHEN data_exception THEN
                    RETURN format('Invalid durable function graph: %s: query in %s must be valid JSON config: %s',
                                  v_path, v_node.node_type, SQLERRM);
                END;
            END IF;
            IF v_query IS NOT NULL AND json_typeof(v_config) <> 'object' THEN
                RETURN format('Invalid durable function graph: %s: query in %s must be a JSON config object',
                              v_path, v_node.node_type);
            END IF;
            v_query := (coalesce(v_config::jsonb, '{}')
                        || CASE WHEN v_cond IS NOT NULL THEN jsonb_build_object('condition_node', v_cond) ELSE '{}' END
                        || CASE WHEN cardinality(v_extras) > 0 THEN jsonb_build_object('extra_nodes', to_jsonb(v_extras)) ELSE '{}' END
                       )::text;
        END IF;

        o_id := o_id || v_id;
        o_type := o_type || v_node.node_type;
        o_query := o_query || v_query;
        o_name := o_name || v_node.result_name;
        o_left := o_left || v_left;
        o_right := o_right || v_right;

        FOR k IN REVERSE cardinality(k_node) .. 1 LOOP
            v_top := v_top + 1;
            s_node[v_top] := k_node[k];
            s_id[v_top] := k_id[k];
            s_depth[v_top] := v_depth + 1;
            s_path[v_top] := v_path || '.' || k_seg[k];
        END LOOP;
    END LOOP;

    SELECT jsonb_object_agg(u.id, jsonb_build_object('t', u.t, 'q', u.q, 'n', u.n, 'l', u.l, 'r', u.r))
      INTO v_nodes
      FROM unnest(o_id, o_type, o_query, o_name, o_left, o_right) AS u(id, t, q, n, l, r);
    RETURN df._explain_render('N1', v_nodes, false);
EXCEPTION WHEN statement_too_complex THEN
    -- JSON nested far deeper than any acceptable graph exhausts the parser's stack.
    RETURN format('Invalid durable function graph: %s: Graph exceeds maximum nesting depth of %s. Simplify the workflow or break it into multiple instances.',
                  v_path, c_max_depth);
END
$$;

-- The node a graph value decodes to, or the reason it is not one (the original's
-- "failed to deserialize Durofut: ..." cause).
CREATE FUNCTION df._explain_decode(p_text text, OUT node df._node, OUT problem text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_json json;
BEGIN
    BEGIN
        v_json := p_text::json;
    EXCEPTION WHEN data_exception THEN
        problem := SQLERRM;
        RETURN;
    WHEN statement_too_complex THEN
        problem := 'JSON nested too deeply';
        RETURN;
    END;
    IF json_typeof(v_json) <> 'object' THEN
        problem := format('invalid type: %s, expected struct Durofut', df._json_kind(v_json));
        RETURN;
    END IF;
    node := df._decode_node(v_json);
    problem := node.problem;
    IF problem IS NOT NULL THEN
        node := NULL;
    END IF;
END
$$;

-- Explain of a live instance: header (id, label, engine status or df status, engine output), a
-- blank line, then the tree with each node's inferred status marker.
CREATE FUNCTION df._explain_instance(p_id text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_inst   record;
    v_engine record;
    v_nodes  jsonb;
    v_status text;
    v_head   text;
BEGIN
    SELECT i.root_node::text AS root, i.label, i.status INTO v_inst
      FROM df.instances i WHERE i.id = p_id;
    IF NOT FOUND OR v_inst.root IS NULL THEN
        RETURN format('Instance ''%s'' not found', p_id);
    END IF;
    SELECT jsonb_object_agg(s.node_id, jsonb_build_object('t', s.node_type, 'q', s.query, 'n', s.result_name,
                                                          'l', s.left_node, 'r', s.right_node,
                                                          's', s.inferred_status))
      INTO v_nodes
      FROM df._node_statuses(p_id) s;
    IF v_nodes IS NULL THEN
        RETURN format('No nodes found for instance ''%s''', p_id);
    END IF;
    SELECT e.status, e.output INTO v_engine FROM df._engine_info(ARRAY[p_id]) e;
    v_status := coalesce(nullif(v_engine.status, ''), v_inst.status, '');

    v_head := 'Instance: ' || p_id || coalesce(' (' || v_inst.label || ')', '') || E'\n'
        || 'Status:   '
        || CASE lower(v_status)
               WHEN 'completed' THEN '✓' WHEN 'continuedasnew' THEN '✓'
               WHEN 'failed' THEN '✗' WHEN 'canceled' THEN '✗' WHEN 'cancelled' THEN '✗'
               WHEN 'running' THEN '⏳'
               ELSE '○' END
        || ' ' || v_status || E'\n'
        || coalesce('Output:   ' || df._explain_clip(v_engine.output, 60, 57) || E'\n', '')
        || E'\n';
    RETURN v_head || df._explain_render(v_inst.root, v_nodes, true);
END
$$;

-- Decides what the input is. Returns the finished text, or (result NULL) the DSL expression that
-- df.explain must evaluate in the caller's own environment.
CREATE FUNCTION df._explain_classify(p_input text, OUT result text, OUT expression text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_input text := regexp_replace(p_input, '^\s+|\s+$', '', 'g');
    v_graph record;
    v_upper text;
BEGIN
    IF v_input ~ '^[0-9A-Fa-f]{8}$' THEN
        result := df._explain_instance(v_input);
        RETURN;
    END IF;
    IF left(v_input, 1) = '{' THEN
        v_graph := df._explain_decode(v_input);
        IF v_graph.problem IS NULL THEN
            result := df._explain_graph(v_graph.node);
            RETURN;
        END IF;
        IF v_graph.problem = 'JSON nested too deeply' THEN
            result := 'Invalid durable function graph: root: Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.';
            RETURN;
        END IF;
    END IF;
    IF strpos(v_input, '~>') > 0 OR strpos(v_input, '|=>') > 0 OR strpos(v_input, '?>') > 0
       OR strpos(v_input, '!>') > 0 OR strpos(v_input, '@>') > 0 OR strpos(v_input, 'df.') > 0 THEN
        expression := v_input;
        RETURN;
    END IF;
    v_upper := upper(v_input);
    IF v_upper ~ '^(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|CALL|DO|TRUNCATE|GRANT|REVOKE|EXPLAIN) '
       OR v_upper ~ '^(SELECT|INSERT|UPDATE|DELETE|WITH)\n' THEN
        result := df._explain_graph(df._leaf('SQL', v_input));
        RETURN;
    END IF;
    result := E'Cannot explain input: not a valid Durofut JSON, instance ID, SQL statement, or DSL expression.\n'
           || 'Hint: DSL expressions use df.*() functions and operators like ~>, |=>, &, |.';
END
$$;

-- The graph a DSL expression evaluates to, or the text explaining why there is none.
-- Deliberately without a pinned search_path: the expression is the caller's own SQL and resolves
-- names the way the caller's session does. It runs as one statement (a cursor refuses several)
-- in a read-only subtransaction that is always rolled back, so explaining has no side effects.
CREATE FUNCTION df._explain_evaluate(p_expression text, OUT graph df._node, OUT message text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_cursor    refcursor;
    v_text      text;
    v_evaluated boolean := false;
    v_decoded   record;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
        OPEN v_cursor NO SCROLL FOR EXECUTE pg_catalog.concat('SELECT ', p_expression);
        FETCH v_cursor INTO v_text;
        CLOSE v_cursor;
        v_evaluated := true;
        RAISE EXCEPTION 'df.explain: discarding the evaluation''s effects';
    EXCEPTION WHEN OTHERS THEN
        IF NOT v_evaluated THEN
            message := pg_catalog.concat('Failed to evaluate expression: ', SQLERRM);
            RETURN;
        END IF;
    END;
    IF v_text IS NULL THEN
        message := 'Expression returned NULL';
        RETURN;
    END IF;
    v_decoded := df._explain_decode(v_text);
    graph := v_decoded.node;
    IF v_decoded.problem IS NOT NULL THEN
        message := pg_catalog.concat('Failed to parse Durofut JSON: failed to deserialize Durofut: ', v_decoded.problem);
    END IF;
END
$$;

-- Tree view of a live instance (8 hex digits), of graph JSON, of a plain SQL statement, or of a
-- DSL expression. Bad input gives an explanatory text, never an error.
CREATE FUNCTION df.explain(input text) RETURNS text
LANGUAGE plpgsql STRICT
AS $$
DECLARE
    v_plan record;
    v_eval record;
BEGIN
    v_plan := df._explain_classify(input);
    IF v_plan.expression IS NULL THEN
        RETURN v_plan.result;
    END IF;
    v_eval := df._explain_evaluate(v_plan.expression);
    IF v_eval.message IS NOT NULL THEN
        RETURN v_eval.message;
    END IF;
    RETURN df._explain_graph(v_eval.graph);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Function privileges
-- ---------------------------------------------------------------------------------------------

-- As for the control plane: no df._* function is executable by PUBLIC, and df.grant_usage()
-- grants the ones the public monitoring functions call as their caller. The two SECURITY
-- DEFINER helpers among them (_engine_info, _engine_executions) re-check the caller themselves.
REVOKE EXECUTE ON FUNCTION
    df._list_instances_max_limit(),
    df._check_list_limit(integer),
    df._engine_info(text[]),
    df._engine_executions(text, integer),
    df._decode_list_cursor(text),
    df._stamp_lineage(text),
    df._node_statuses(text),
    df._explain_clip(text, integer, integer),
    df._explain_label(text, text, text, text, text),
    df._explain_render(text, jsonb, boolean),
    df._explain_sequence(text, jsonb),
    df._explain_graph(df._node),
    df._explain_decode(text),
    df._explain_instance(text),
    df._explain_classify(text),
    df._explain_evaluate(text)
FROM PUBLIC;

INSERT INTO df._usage_functions (signature) VALUES
    ('df._list_instances_max_limit()'),
    ('df._check_list_limit(integer)'),
    ('df._engine_info(text[])'),
    ('df._engine_executions(text,integer)'),
    ('df._decode_list_cursor(text)'),
    ('df._stamp_lineage(text)'),
    ('df._node_statuses(text)'),
    ('df._explain_clip(text,integer,integer)'),
    ('df._explain_label(text,text,text,text,text)'),
    ('df._explain_render(text,jsonb,boolean)'),
    ('df._explain_sequence(text,jsonb)'),
    ('df._explain_graph(df._node)'),
    ('df._explain_decode(text)'),
    ('df._explain_instance(text)'),
    ('df._explain_classify(text)'),
    ('df._explain_evaluate(text)');
