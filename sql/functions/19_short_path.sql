-- The short path: a step that completes inside its own transaction also commits the next turn
-- of its instance there, so a step costs one commit instead of three transactions and a queue
-- hop (the engine guide, "The short path", says when it applies and why it is safe).
--
-- The worker that ran the step holds the instance's replay state, decides the next turn in
-- memory, and hands it here as data: history rows, the next activities, timers, how the
-- execution ended, and the df graph's status writes, each of a fixed kind. Never SQL text. The
-- step's lease token is the authority: only the worker that claimed the item knows it (the same
-- token df_engine.complete_activity_or_fail takes), and everything the turn writes is checked
-- to belong to that item's instance.
--
-- The turn is only taken when, under the instance's row lock taken without waiting, nothing
-- else can have happened to the instance since the worker's replay state was made: the
-- instance is running in the item's generation, its history has exactly the length the worker
-- expects, and no message for it is waiting. Otherwise (another worker holds the instance, a
-- signal, cancel, timer or another step's result is queued, the transaction is not READ
-- COMMITTED) the completion is queued exactly as df_engine.complete_activity_or_fail queues
-- it, and the orchestration dispatch takes the turn as before: advanced comes back false.

CREATE OR REPLACE FUNCTION df_engine.complete_and_advance(
    p_item_id     bigint,
    p_token       uuid,
    p_result      text,
    p_expected    integer,
    p_turn_time   timestamptz,
    p_turn_json   text,
    p_lease_owner text,
    p_lease_secs  double precision,
    OUT advanced       boolean,
    OUT next_item      bigint,
    OUT next_token     uuid,
    OUT next_attempts  integer,
    OUT next_partition text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- Text, converted here: the caller's connection may be a SQL step's, whose search_path is the
    -- submitting role's, so it binds values with their types and casts nothing itself.
    v_turn        jsonb;
    v_history     jsonb;
    v_finish      jsonb;
    v_writes      jsonb;
    v_item        record;
    v_inst        record;
    v_count       integer;
    v_status      text;
    v_df          text;
    v_locked      boolean;
BEGIN
    advanced := false;
    DELETE FROM df_engine.activity_queue
     WHERE id = p_item_id AND lease_token = p_token
    RETURNING instance_id, execution_id, task_id INTO v_item;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'activity item % is no longer leased with this token: it was completed already, taken over after its lease expired, or its instance was cancelled', p_item_id
            USING ERRCODE = '55000';
    END IF;
    v_turn := p_turn_json::jsonb;
    v_history := coalesce(v_turn -> 'history', '[]'::jsonb);
    v_finish := v_turn -> 'finish';
    v_writes := v_turn -> 'writes';
    IF jsonb_typeof(v_turn) IS DISTINCT FROM 'object' OR jsonb_typeof(v_history) <> 'array'
       OR p_expected IS NULL OR p_turn_time IS NULL THEN
        RAISE EXCEPTION 'df_engine.complete_and_advance: the turn must be a JSON object with a history array, an expected history length and a turn time'
            USING ERRCODE = '22023';
    END IF;
    IF v_finish IS NOT NULL THEN
        v_status := v_finish ->> 'status';
        IF v_status IS NULL OR v_status NOT IN ('Completed', 'Failed') THEN
            RAISE EXCEPTION 'df_engine.complete_and_advance: an execution ends Completed or Failed, not %', v_status
                USING ERRCODE = '22023';
        END IF;
    END IF;

    IF v_writes IS NOT NULL AND jsonb_typeof(v_writes) <> 'array' THEN
        RAISE EXCEPTION 'df_engine.complete_and_advance: the writes of the turn must be a JSON array' USING ERRCODE = '22023';
    END IF;
    v_df := split_part(v_item.instance_id, '::', 1);

    -- In READ COMMITTED each statement below sees what committed before it started, so the
    -- checks after the lock see every turn that committed before it. Other levels read from
    -- the transaction's first snapshot and cannot tell.
    --
    -- For a df turn the statement that takes the lock also reads the df graph's status writes
    -- (node status changes, the instance starting to run, the instance ending): every write must
    -- name the df instance the engine instance belongs to (its id up to the first '::'), or the
    -- whole turn is refused; and whether any of them changes the df instance itself. An engine
    -- turn has none and takes the lock alone: reading an empty list cost it about 7% of a call
    -- (docs/benchmarks.md, 2026-12-06, midday).
    IF current_setting('transaction_isolation') = 'read committed' THEN
        IF v_writes IS NULL THEN
            SELECT i.status, i.execution_id, i.partition_key, i.parent_id, i.parent_execution_id, i.parent_task_id,
                   false AS changes_instance, NULL::jsonb AS bad
              INTO v_inst
              FROM df_engine.instances i
             WHERE i.id = v_item.instance_id
               FOR UPDATE OF i SKIP LOCKED;
        ELSE
            SELECT i.status, i.execution_id, i.partition_key, i.parent_id, i.parent_execution_id, i.parent_task_id,
                   w.changes_instance, w.bad
              INTO v_inst
              FROM df_engine.instances i,
                   LATERAL (SELECT coalesce(bool_or(w ->> 'kind' IN ('instance_running', 'instance_done')), false)
                                       AS changes_instance,
                                   (array_agg(w) FILTER (WHERE NOT coalesce(
                                          (w ->> 'kind' = 'node_update' AND w -> 'args' ->> 3 = v_df
                                           AND w -> 'args' ->> 0 IS NOT NULL)
                                       OR (w ->> 'kind' = 'instance_running' AND w -> 'args' ->> 0 = v_df)
                                       OR (w ->> 'kind' = 'instance_done' AND w -> 'args' ->> 1 = v_df
                                           AND w -> 'args' ->> 0 IN ('completed', 'failed')), false)))[1] AS bad
                              FROM jsonb_array_elements(v_writes) AS w) w
             WHERE i.id = v_item.instance_id
               FOR UPDATE OF i SKIP LOCKED;
        END IF;
        v_locked := FOUND;
        IF v_locked AND v_inst.bad IS NOT NULL THEN
            RAISE EXCEPTION 'df_engine.complete_and_advance: write % is not a status write of instance % (engine instance %)',
                v_inst.bad, v_df, v_item.instance_id USING ERRCODE = '22023';
        END IF;
        IF v_locked AND v_inst.status = 'Running' AND v_inst.execution_id = v_item.execution_id THEN
            -- The last event by a backward scan, as in df_engine.history_length.
            SELECT coalesce((SELECT h.seq FROM df_engine.history h
                              WHERE h.instance_id = v_item.instance_id AND h.execution_id = v_item.execution_id
                              ORDER BY h.seq DESC LIMIT 1), 0) = p_expected
                   AND NOT EXISTS (SELECT 1 FROM df_engine.orchestrator_queue q
                                    WHERE q.instance_id = v_item.instance_id AND q.visible_at <= clock_timestamp())
              INTO advanced;
        END IF;
        -- Every turn of this instance, and df.cancel, holds the engine instance's row lock (taken
        -- above) while it writes the df graph's statuses, so node writes need no other lock. A
        -- turn that changes the df instance's row also takes that row without waiting (the
        -- signal router and df.cancel lock it too): if it is held, the completion is queued.
        IF advanced AND v_inst.changes_instance THEN
            PERFORM 1 FROM df.instances i WHERE i.id = v_df FOR UPDATE SKIP LOCKED;
            advanced := FOUND;
        END IF;
    END IF;

    IF NOT advanced THEN
        INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
        VALUES (v_item.instance_id, v_item.execution_id, 'TaskCompleted', v_item.task_id, p_result);
        RETURN;
    END IF;

    -- The df graph's node statuses (a node written twice in one turn, running and then
    -- completed, takes its last write). Only a df turn has them: an engine turn's transaction
    -- then never touches df.nodes, which made engine steps measurably cheaper (docs/benchmarks.md,
    -- 2026-12-03, late); a df turn measured the same as with the update inside the statement below.
    IF v_writes IS NOT NULL THEN
        UPDATE df.nodes n
           SET status = v.status, result = v.result::jsonb, status_details = v.details::jsonb, updated_at = now()
          FROM (SELECT DISTINCT ON (w.v -> 'args' ->> 4)
                       w.v -> 'args' ->> 0 AS status, w.v -> 'args' ->> 1 AS result,
                       w.v -> 'args' ->> 2 AS details, w.v -> 'args' ->> 4 AS id
                  FROM jsonb_array_elements(v_writes) WITH ORDINALITY AS w(v, ord)
                 WHERE w.v ->> 'kind' = 'node_update'
                 ORDER BY w.v -> 'args' ->> 4, w.ord DESC) v
         WHERE n.instance_id = v_df AND n.id = v.id;
    END IF;

    -- The rest of the turn's writes in one statement, since most of what a statement costs here
    -- is fixed: the turn's inputs (it started, and this step completed) and what it decided,
    -- appended to the history, and the next activities. The first activity may be leased to the
    -- worker at once, which then runs it without claiming it from the queue: the lease counts as
    -- the item's first attempt, so if the worker dies holding it, the next claim is its second,
    -- as after any claim.
    WITH appended AS (
        INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, task_id, name, payload, event_time)
        SELECT v_item.instance_id, v_item.execution_id, p_expected + e.ord::integer, e.t, e.task, e.name, e.payload,
               p_turn_time
          FROM (SELECT 1::bigint AS ord, 'OrchestratorStarted'::text AS t, NULL::integer AS task, NULL::text AS name,
                       NULL::text AS payload
                UNION ALL
                SELECT 2, 'TaskCompleted', v_item.task_id, NULL, p_result
                UNION ALL
                SELECT 2 + h.ord, h.v ->> 't', (h.v ->> 'task')::integer, h.v ->> 'name', h.v ->> 'payload'
                  FROM jsonb_array_elements(v_history) WITH ORDINALITY AS h(v, ord)) e),
    added AS (
        INSERT INTO df_engine.activity_queue
            (instance_id, execution_id, task_id, name, input, partition_key, lease_owner, lease_token, visible_at,
             attempts)
        SELECT v_item.instance_id, v_item.execution_id, (a.v ->> 'task')::integer, a.v ->> 'name', a.v ->> 'input',
               coalesce(a.v ->> 'key', v_inst.partition_key),
               CASE WHEN a.ord = 1 AND p_lease_owner IS NOT NULL THEN p_lease_owner END,
               CASE WHEN a.ord = 1 AND p_lease_owner IS NOT NULL THEN gen_random_uuid() END,
               CASE WHEN a.ord = 1 AND p_lease_owner IS NOT NULL
                    THEN clock_timestamp() + make_interval(secs => p_lease_secs) ELSE now() END,
               CASE WHEN a.ord = 1 AND p_lease_owner IS NOT NULL THEN 1 ELSE 0 END
          FROM jsonb_array_elements(coalesce(v_turn -> 'activities', '[]'::jsonb)) WITH ORDINALITY AS a(v, ord)
            ON CONFLICT (instance_id, execution_id, task_id) DO NOTHING
        RETURNING id, lease_token, attempts, partition_key)
    SELECT a.id, a.lease_token, a.attempts, a.partition_key
      INTO next_item, next_token, next_attempts, next_partition
      FROM added a
     WHERE a.lease_token IS NOT NULL;
    v_count := p_expected + 2 + jsonb_array_length(v_history);

    IF v_inst.changes_instance THEN
        -- Still pending, written as the statuses it is not: a test of status = 'pending' matches
        -- idx_instances_status, which the planner may prefer to the primary key and then reads
        -- through every pending entry (see GraphOrchestration.INSTANCE_RUNNING).
        UPDATE df.instances SET status = 'running', updated_at = now()
         WHERE id = v_df AND status NOT IN ('running', 'completed', 'failed', 'cancelled')
           AND EXISTS (SELECT 1 FROM jsonb_array_elements(v_writes) AS w WHERE w ->> 'kind' = 'instance_running');
        UPDATE df.instances
           SET status = v.status, completed_at = CASE WHEN v.status = 'completed' THEN now() END,
               terminal_at = now(), updated_at = now()
          FROM (SELECT w.v -> 'args' ->> 0 AS status
                  FROM jsonb_array_elements(v_writes) WITH ORDINALITY AS w(v, ord)
                 WHERE w.v ->> 'kind' = 'instance_done'
                 ORDER BY w.ord DESC LIMIT 1) v
         WHERE id = v_df AND df.instances.status NOT IN ('completed', 'failed', 'cancelled');
    END IF;

    IF jsonb_array_length(coalesce(v_turn -> 'timers', '[]'::jsonb)) > 0 THEN
        INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, visible_at)
        SELECT v_item.instance_id, v_item.execution_id, 'TimerFired', (t.v ->> 'task')::integer,
               (t.v ->> 'at')::timestamptz
          FROM jsonb_array_elements(v_turn -> 'timers') AS t(v);
    END IF;

    IF v_finish IS NOT NULL THEN
        UPDATE df_engine.instances
           SET status = v_status, output = v_finish ->> 'output',
               updated_at = clock_timestamp(), completed_at = clock_timestamp()
         WHERE id = v_item.instance_id;
        UPDATE df_engine.executions
           SET status = v_status, output = v_finish ->> 'output', event_count = v_count,
               ended_at = clock_timestamp()
         WHERE instance_id = v_item.instance_id AND execution_id = v_item.execution_id;
        -- Leftover timers and queued activities of a finished instance will never matter.
        DELETE FROM df_engine.orchestrator_queue WHERE instance_id = v_item.instance_id;
        DELETE FROM df_engine.activity_queue WHERE instance_id = v_item.instance_id;
        next_item := NULL;
        next_token := NULL;
        IF v_inst.parent_id IS NOT NULL THEN
            INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
            VALUES (v_inst.parent_id, v_inst.parent_execution_id,
                    CASE WHEN v_status = 'Completed' THEN 'SubOrchestrationCompleted' ELSE 'SubOrchestrationFailed' END,
                    v_inst.parent_task_id, v_finish ->> 'output');
            PERFORM pg_notify('df_engine', '');
        END IF;
    END IF;
END
$fn$;
GRANT EXECUTE ON FUNCTION df_engine.complete_and_advance(bigint, uuid, text, integer, timestamptz, text, text, double precision) TO PUBLIC;
