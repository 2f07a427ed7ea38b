-- Cancel reaches children created while it runs.
--
-- df_engine.cancel collected the tree once and then updated it. A worker may be in the middle of
-- a turn of one of the tree's instances when the cancel starts: the turn holds that instance's
-- row lock and may create sub-orchestrations. The cancel's UPDATE waits for that lock, but its
-- tree was read before the turn committed, so the new children stayed Pending with their start
-- messages queued, and their steps ran after the cancel.
--
-- Now the tree is read again after every round of updates, until a round finds no new member.
-- This ends: a round's UPDATE holds the locks of every member it cancelled until the cancel
-- commits, and no turn can create a child of an instance whose row it cannot lock.

CREATE OR REPLACE FUNCTION df_engine.cancel(p_instance_id text, p_reason text DEFAULT 'Cancelled')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids   text[] := ARRAY[]::text[];
    v_new   text[];
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

    LOOP
        -- Each round is a new statement, so it sees the children that turns committed while
        -- the previous round waited for their instances' locks.
        WITH RECURSIVE tree(id) AS (
            SELECT p_instance_id
            UNION ALL
            SELECT c.id FROM df_engine.instances c JOIN tree t ON c.parent_id = t.id
        )
        SELECT coalesce(array_agg(id), ARRAY[]::text[]) INTO v_new
          FROM tree WHERE id <> ALL (v_ids);
        EXIT WHEN cardinality(v_new) = 0;
        v_ids := v_ids || v_new;

        WITH cancelled AS (
            UPDATE df_engine.instances i
               SET status = 'Cancelled', output = to_json(coalesce(p_reason, 'Cancelled'))::text,
                   updated_at = clock_timestamp(), completed_at = clock_timestamp()
             WHERE i.id = ANY (v_new) AND NOT df_engine.is_terminal(i.status)
            RETURNING i.id, i.execution_id
        )
        UPDATE df_engine.executions e
           SET status = 'Cancelled', ended_at = clock_timestamp()
          FROM cancelled c
         WHERE e.instance_id = c.id AND e.execution_id = c.execution_id AND e.status = 'Running';
    END LOOP;

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
