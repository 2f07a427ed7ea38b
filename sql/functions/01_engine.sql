-- ---------------------------------------------------------------------------------------------
-- Functions. All run as the schema owner and pin search_path.
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df_engine.is_terminal(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_status IN ('Completed', 'Failed', 'Cancelled') $$;

CREATE OR REPLACE FUNCTION df_engine.wake() RETURNS void
LANGUAGE sql
AS $$ SELECT pg_notify('df_engine', '') $$;
REVOKE ALL ON FUNCTION df_engine.wake() FROM PUBLIC;

-- Creates an instance and its first execution, and queues nothing: df_engine.start_orchestration
-- creates it Pending and queues its start message for a dispatch loop; a worker that starts an
-- instance in its own JVM (Worker.startOrchestration in the engine guide) creates it Running and
-- writes its first turn in the same transaction.
CREATE OR REPLACE FUNCTION df_engine.create_instance(
    p_instance_id text,
    p_name        text,
    p_input       text,
    p_status      text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_instance_id IS NULL OR p_instance_id = '' THEN
        RAISE EXCEPTION 'orchestration instance id must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'orchestration name must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_status IS NULL OR p_status NOT IN ('Pending', 'Running') THEN
        RAISE EXCEPTION 'a new orchestration instance is Pending or Running, not %', coalesce(p_status, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    -- ON CONFLICT, not an exception block: a block that catches an error is a subtransaction, and
    -- one that writes takes a subtransaction id. A transaction that started more than 64 instances
    -- (df.start in a loop, or over a query's rows) overflowed its backend's cache of those ids, and
    -- while it ran every other session's visibility checks went through pg_subtrans.
    INSERT INTO df_engine.instances (id, name, input, status) VALUES (p_instance_id, p_name, p_input, p_status)
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'orchestration instance "%" already exists', p_instance_id
            USING ERRCODE = '23505';
    END IF;
    INSERT INTO df_engine.executions (instance_id, execution_id, input)
    VALUES (p_instance_id, 1, p_input);
END
$$;

REVOKE ALL ON FUNCTION df_engine.create_instance(text, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df_engine.start_orchestration(
    p_instance_id text,
    p_name        text,
    p_input       text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM df_engine.create_instance(p_instance_id, p_name, p_input, 'Pending');
    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, payload)
    VALUES (p_instance_id, 1, 'ExecutionStarted', p_name, p_input);
    PERFORM df_engine.wake();
    RETURN p_instance_id;
END
$$;

REVOKE ALL ON FUNCTION df_engine.start_orchestration(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df_engine.raise_event(p_instance_id text, p_event_name text, p_data text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_status text;
BEGIN
    IF p_event_name IS NULL OR p_event_name = '' THEN
        RAISE EXCEPTION 'event name must not be empty' USING ERRCODE = '22023';
    END IF;
    SELECT status INTO v_status FROM df_engine.instances WHERE id = p_instance_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'orchestration instance "%" does not exist', p_instance_id
            USING ERRCODE = 'P0002';
    END IF;
    IF df_engine.is_terminal(v_status) THEN
        RAISE EXCEPTION 'orchestration instance "%" is % and takes no more events', p_instance_id, v_status
            USING ERRCODE = '55000';
    END IF;
    INSERT INTO df_engine.orchestrator_queue (instance_id, kind, name, payload)
    VALUES (p_instance_id, 'EventRaised', p_event_name, p_data);
    PERFORM df_engine.wake();
END
$$;
REVOKE ALL ON FUNCTION df_engine.raise_event(text, text, text) FROM PUBLIC;
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
REVOKE ALL ON FUNCTION df_engine.cancel(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.cancel(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df_engine.get_instance(p_instance_id text)
RETURNS TABLE (id text, name text, status text, input text, output text, parent_id text,
               execution_id integer, created_at timestamptz, updated_at timestamptz,
               completed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.id, i.name, i.status, i.input, i.output, i.parent_id, i.execution_id,
           i.created_at, i.updated_at, i.completed_at
      FROM df_engine.instances i
     WHERE i.id = p_instance_id
$$;
REVOKE ALL ON FUNCTION df_engine.get_instance(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df_engine.list_instances(p_status text DEFAULT NULL, p_limit integer DEFAULT 100)
RETURNS TABLE (id text, name text, status text, input text, output text, parent_id text,
               execution_id integer, created_at timestamptz, updated_at timestamptz,
               completed_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_status IS NOT NULL
       AND p_status NOT IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled') THEN
        RAISE EXCEPTION 'unknown instance status "%": expected Pending, Running, Completed, Failed or Cancelled', p_status
            USING ERRCODE = '22023';
    END IF;
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'limit must be a positive integer, got %', coalesce(p_limit::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT i.id, i.name, i.status, i.input, i.output, i.parent_id, i.execution_id,
           i.created_at, i.updated_at, i.completed_at
      FROM df_engine.instances i
     WHERE p_status IS NULL OR i.status = p_status
     ORDER BY i.created_at DESC, i.id DESC
     LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION df_engine.list_instances(text, integer) FROM PUBLIC;

-- Deletes terminal instances among p_ids (optionally only those that became terminal before
-- p_terminal_before, at most p_limit of them, oldest first) together with all their
-- descendants, histories, executions and queued work. Non-terminal instances in p_ids are
-- skipped, never deleted, and so is a terminal instance with a descendant still running (a
-- child it started without waiting for): it can be deleted once that child has ended.
-- Returns the ids of the deleted top-level instances.
CREATE OR REPLACE FUNCTION df_engine.delete_instances(
    p_ids             text[],
    p_terminal_before timestamptz DEFAULT NULL,
    p_limit           integer DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_roots text[];
    v_all   text[];
BEGIN
    IF p_limit IS NOT NULL AND p_limit < 0 THEN
        RAISE EXCEPTION 'limit must not be negative, got %', p_limit USING ERRCODE = '22023';
    END IF;
    WITH RECURSIVE family(root, id, status) AS (
        SELECT i.id, i.id, i.status FROM df_engine.instances i WHERE i.id = ANY (p_ids)
        UNION ALL
        SELECT f.root, c.id, c.status FROM df_engine.instances c JOIN family f ON c.parent_id = f.id
    ), busy AS (
        SELECT DISTINCT f.root FROM family f WHERE NOT df_engine.is_terminal(f.status)
    )
    SELECT array_agg(s.id) INTO v_roots
      FROM (SELECT i.id
              FROM df_engine.instances i
             WHERE i.id = ANY (p_ids)
               AND df_engine.is_terminal(i.status)
               AND (p_terminal_before IS NULL OR coalesce(i.completed_at, i.created_at) < p_terminal_before)
               AND i.id NOT IN (SELECT b.root FROM busy b)
             ORDER BY coalesce(i.completed_at, i.created_at), i.id
             LIMIT p_limit
               FOR UPDATE OF i) s;
    IF v_roots IS NULL THEN
        RETURN;
    END IF;

    WITH RECURSIVE tree(id) AS (
        SELECT unnest(v_roots)
        UNION
        SELECT c.id FROM df_engine.instances c JOIN tree t ON c.parent_id = t.id
    )
    SELECT array_agg(id) INTO v_all FROM tree;

    DELETE FROM df_engine.history WHERE instance_id = ANY (v_all);
    DELETE FROM df_engine.orchestrator_queue WHERE instance_id = ANY (v_all);
    DELETE FROM df_engine.activity_queue WHERE instance_id = ANY (v_all);
    DELETE FROM df_engine.instances WHERE id = ANY (v_all);  -- executions cascade
    RETURN QUERY SELECT unnest(v_roots);
END
$$;
REVOKE ALL ON FUNCTION df_engine.delete_instances(text[], timestamptz, integer) FROM PUBLIC;

-- Records an activity's result. Called by the worker, or by a SQL step inside the very
-- transaction that ran the user's statement, which makes that step exactly-once: both commit
-- or neither does. The lease token proves the caller holds the current claim; a stale or
-- forged token, a duplicate completion, or an instance cancelled meanwhile returns false, and
-- the caller must then roll its work back.
CREATE OR REPLACE FUNCTION df_engine.complete_activity(
    p_item_id bigint,
    p_token   uuid,
    p_result  text,
    p_failed  boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_item df_engine.activity_queue%ROWTYPE;
BEGIN
    DELETE FROM df_engine.activity_queue
     WHERE id = p_item_id AND lease_token = p_token
    RETURNING * INTO v_item;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
    VALUES (v_item.instance_id, v_item.execution_id,
            CASE WHEN p_failed THEN 'TaskFailed' ELSE 'TaskCompleted' END,
            v_item.task_id, p_result);
    RETURN true;
END
$$;
GRANT EXECUTE ON FUNCTION df_engine.complete_activity(bigint, uuid, text, boolean) TO PUBLIC;

-- The exactly-once form: like complete_activity, but a refused completion raises, so the
-- caller's transaction (holding the activity's own work) cannot commit without it. The worker
-- sends it together with COMMIT in one round trip, once per SQL step: so it is one statement
-- here rather than a call of complete_activity (a nested SECURITY DEFINER call with its own
-- search_path costs a setting change and two plans more per step).
CREATE OR REPLACE FUNCTION df_engine.complete_activity_or_fail(
    p_item_id bigint,
    p_token   uuid,
    p_result  text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WITH done AS (
        DELETE FROM df_engine.activity_queue
         WHERE id = p_item_id AND lease_token = p_token
        RETURNING instance_id, execution_id, task_id)
    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
    SELECT d.instance_id, d.execution_id, 'TaskCompleted', d.task_id, p_result FROM done d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'activity item % is no longer leased with this token: it was completed already, taken over after its lease expired, or its instance was cancelled', p_item_id
            USING ERRCODE = '55000';
    END IF;
END
$$;
GRANT EXECUTE ON FUNCTION df_engine.complete_activity_or_fail(bigint, uuid, text) TO PUBLIC;
-- The length of an instance's history as it is now, not as the calling statement's snapshot saw
-- it. A worker locks instances and reads their history length in one statement; in READ
-- COMMITTED that statement's snapshot is taken before its locks, so when another worker's turn
-- on the same instance commits in between, a length read in the statement itself comes out
-- short and the next turn's history rows collide with that turn's. A query inside a VOLATILE
-- PL/pgSQL function takes a snapshot of its own when it runs, after the row lock is granted, and
-- no other turn can append while the lock is held. (PL/pgSQL, so the planner cannot inline it.)
--
-- The last event is read by a backward scan of the primary key, whatever the statistics say.
-- Written as max(seq), the planner took an aggregate over every event of the execution whenever
-- it expected few rows (a fresh table, or a long instance among short ones in the statistics),
-- and a turn of a 3,000-event execution read all 3,000 (docs/benchmarks.md, 2026-12-05, fifth).
CREATE OR REPLACE FUNCTION df_engine.history_length(p_instance_id text, p_execution_id integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RETURN coalesce((SELECT h.seq FROM df_engine.history h
                      WHERE h.instance_id = p_instance_id AND h.execution_id = p_execution_id
                      ORDER BY h.seq DESC LIMIT 1), 0);
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.history_length(text, integer) FROM PUBLIC;

-- Extends the leases of the items still held with these tokens by p_secs from now and returns
-- their ids. One primary-key probe per item, whatever the plan: a worker's connection keeps the
-- plan it made first, and a renewal planned while the queue was (nearly) empty joined the items
-- to the whole queue (a merge or hash join), reading every queued row at every renewal once the
-- queue had filled. A single-row statement with sequential scans off has no plan but the probe.
CREATE OR REPLACE FUNCTION df_engine.renew_activity_leases(p_ids bigint[], p_tokens uuid[], p_secs double precision)
    RETURNS SETOF bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
AS $fn$
DECLARE
    v_id bigint;
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_tokens) THEN
        RAISE EXCEPTION 'df_engine.renew_activity_leases: % ids but % tokens',
            coalesce(cardinality(p_ids), 0), coalesce(cardinality(p_tokens), 0) USING ERRCODE = '22023';
    END IF;
    FOR i IN 1..coalesce(cardinality(p_ids), 0) LOOP
        UPDATE df_engine.activity_queue q
           SET visible_at = now() + make_interval(secs => p_secs)
         WHERE q.id = p_ids[i] AND q.lease_token = p_tokens[i]
        RETURNING q.id INTO v_id;
        IF FOUND THEN
            RETURN NEXT v_id;
        END IF;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.renew_activity_leases(bigint[], uuid[], double precision) FROM PUBLIC;

-- Records a batch of activity results: each item still leased with its token leaves the queue
-- and its result (TaskFailed when p_failed says so, else TaskCompleted) is queued for its
-- instance's next turn; items whose lease is gone are skipped, as df_engine.complete_activity
-- skips them. Returns how many were recorded. Each item is taken by a primary-key probe, for the
-- reason df_engine.renew_activity_leases gives.
CREATE OR REPLACE FUNCTION df_engine.complete_activities(p_ids bigint[], p_tokens uuid[], p_results text[],
                                                        p_failed boolean[])
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
AS $fn$
DECLARE
    v_count     integer := coalesce(cardinality(p_ids), 0);
    v_item      record;
    v_instances text[] := '{}';
    v_execs     integer[] := '{}';
    v_tasks     integer[] := '{}';
    v_kinds     text[] := '{}';
    v_payloads  text[] := '{}';
    v_n         integer := 0;
BEGIN
    IF coalesce(cardinality(p_tokens), 0) <> v_count OR coalesce(cardinality(p_results), 0) <> v_count
       OR coalesce(cardinality(p_failed), 0) <> v_count THEN
        RAISE EXCEPTION 'df_engine.complete_activities: % ids, % tokens, % results and % failure flags; they must be as many',
            v_count, coalesce(cardinality(p_tokens), 0), coalesce(cardinality(p_results), 0),
            coalesce(cardinality(p_failed), 0) USING ERRCODE = '22023';
    END IF;
    FOR i IN 1..v_count LOOP
        DELETE FROM df_engine.activity_queue q
         WHERE q.id = p_ids[i] AND q.lease_token = p_tokens[i]
        RETURNING q.instance_id, q.execution_id, q.task_id INTO v_item;
        IF FOUND THEN
            v_n := v_n + 1;
            v_instances[v_n] := v_item.instance_id;
            v_execs[v_n] := v_item.execution_id;
            v_tasks[v_n] := v_item.task_id;
            v_kinds[v_n] := CASE WHEN p_failed[i] THEN 'TaskFailed' ELSE 'TaskCompleted' END;
            v_payloads[v_n] := p_results[i];
        END IF;
    END LOOP;
    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
    SELECT * FROM unnest(v_instances, v_execs, v_kinds, v_tasks, v_payloads);
    RETURN v_n;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.complete_activities(bigint[], uuid[], text[], boolean[]) FROM PUBLIC;

-- A message inserted without a key takes its instance's. Not SECURITY DEFINER: it runs as
-- whoever inserts, which is the engine's owner or the worker.
CREATE OR REPLACE FUNCTION df_engine.message_partition_key() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    NEW.partition_key := coalesce((SELECT i.partition_key FROM df_engine.instances i
                                    WHERE i.id OPERATOR(pg_catalog.=) NEW.instance_id), '');
    RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.message_partition_key() FROM PUBLIC;

DROP TRIGGER IF EXISTS orchestrator_queue_partition_key ON df_engine.orchestrator_queue;
CREATE TRIGGER orchestrator_queue_partition_key
    BEFORE INSERT ON df_engine.orchestrator_queue
    FOR EACH ROW WHEN (NEW.partition_key IS NULL)
    EXECUTE FUNCTION df_engine.message_partition_key();
