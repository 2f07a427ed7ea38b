-- Cancel stops work, not just bookkeeping.
--
-- df_engine.cancel already deletes the queued activity items of the cancelled tree in its own
-- transaction, which revokes their leases. A worker may still hold such items: claimed in
-- advance and waiting for a thread, or running. It learns of the cancel in two ways: the
-- notification sent here when the cancel commits ('cancel' on the engine's channel), and, as the
-- safety net, its periodic lease renewal, which finds the items gone. Items not started yet are
-- dropped; running ones have their statement cancelled. Independently of either, every step
-- checks its lease right before its SQL runs (df_engine.activity_lease_held), so no step starts
-- once the cancel has committed.

CREATE OR REPLACE FUNCTION df_engine.cancel(p_instance_id text, p_reason text DEFAULT 'Cancelled')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids   text[];
    v_root  df_engine.instances%ROWTYPE;
BEGIN
    SELECT * INTO v_root FROM df_engine.instances WHERE id = p_instance_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'orchestration instance "%" does not exist', p_instance_id
            USING ERRCODE = 'P0002';
    END IF;
    IF df_engine.is_terminal(v_root.status) THEN
        RETURN 0;
    END IF;

    WITH RECURSIVE tree(id) AS (
        SELECT p_instance_id
        UNION ALL
        SELECT c.id FROM df_engine.instances c JOIN tree t ON c.parent_id = t.id
    )
    SELECT array_agg(id) INTO v_ids FROM tree;

    WITH cancelled AS (
        UPDATE df_engine.instances i
           SET status = 'Cancelled', output = to_json(coalesce(p_reason, 'Cancelled'))::text,
               updated_at = clock_timestamp(), completed_at = clock_timestamp()
         WHERE i.id = ANY (v_ids) AND NOT df_engine.is_terminal(i.status)
        RETURNING i.id, i.execution_id
    )
    UPDATE df_engine.executions e
       SET status = 'Cancelled', ended_at = clock_timestamp()
      FROM cancelled c
     WHERE e.instance_id = c.id AND e.execution_id = c.execution_id AND e.status = 'Running';

    DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (v_ids);
    -- Deleting the items revokes their leases: a step not started yet will not start, and a
    -- running one can no longer record its completion.
    DELETE FROM df_engine.activity_queue WHERE instance_id = ANY (v_ids);

    IF v_root.parent_id IS NOT NULL THEN
        INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
        VALUES (v_root.parent_id, v_root.parent_execution_id, 'SubOrchestrationFailed', v_root.parent_task_id,
                json_build_object('type', 'Cancelled',
                                  'message', coalesce(p_reason, 'Cancelled'))::text);
    END IF;
    PERFORM df_engine.wake();
    -- Tells workers, once this commits, to check the leases of the items they hold: they drop
    -- the ones not started and cancel the statements of the running ones.
    PERFORM pg_notify('df_engine', 'cancel');
    RETURN cardinality(v_ids);
END
$$;
REVOKE ALL ON FUNCTION df_engine.cancel(text, text) FROM PUBLIC;

-- Whether an activity item is still leased with this token: false once it was completed, taken
-- over after its lease expired, or deleted by a cancel. A step calls it right before its SQL,
-- inside the step's own transaction (any role may, like complete_activity: the unguessable token
-- is the guard, and the answer says nothing about anyone else's work).
CREATE FUNCTION df_engine.activity_lease_held(p_item_id bigint, p_token uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM df_engine.activity_queue q
                    WHERE q.id = p_item_id AND q.lease_token = p_token)
$$;
REVOKE ALL ON FUNCTION df_engine.activity_lease_held(bigint, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION df_engine.activity_lease_held(bigint, uuid) TO PUBLIC;

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

-- df.explain marks a cancelled node like a failed one (✗), as it marks a cancelled instance.
CREATE OR REPLACE FUNCTION df._explain_instance(p_id text) RETURNS text
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
                                                          's', CASE s.inferred_status WHEN 'cancelled' THEN 'failed'
                                                                    ELSE s.inferred_status END))
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
