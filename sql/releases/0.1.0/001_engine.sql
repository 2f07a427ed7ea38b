-- Durable engine store (schema df_engine).
--
-- A general durable-task engine: orchestrations are deterministic code replayed from an
-- append-only history; activities are the side effects. This schema knows nothing of the df
-- control plane, which drives it through the functions at the end of this file.
--
-- Application roles never touch these tables directly. The functions that df calls are
-- SECURITY DEFINER and not executable by PUBLIC, except complete_activity, which is guarded by
-- an unguessable lease token.

CREATE SCHEMA IF NOT EXISTS df_engine;
REVOKE ALL ON SCHEMA df_engine FROM PUBLIC;
-- USAGE lets a SQL step's connection (running as the submitting role) call complete_activity.
GRANT USAGE ON SCHEMA df_engine TO PUBLIC;

CREATE TABLE df_engine.instances (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    status              text NOT NULL DEFAULT 'Pending'
                        CHECK (status IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled')),
    input               text,
    output              text,
    parent_id           text,
    parent_execution_id integer,
    parent_task_id      integer,
    execution_id        integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at        timestamptz,
    CHECK ((status IN ('Completed', 'Failed', 'Cancelled')) = (completed_at IS NOT NULL))
);
CREATE INDEX instances_parent_idx ON df_engine.instances (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX instances_status_idx ON df_engine.instances (status, created_at, id);
CREATE INDEX instances_terminal_age_idx ON df_engine.instances ((coalesce(completed_at, created_at)), id)
    WHERE status IN ('Completed', 'Failed', 'Cancelled');

-- One row per generation; continue-as-new closes one and opens the next.
CREATE TABLE df_engine.executions (
    instance_id  text NOT NULL REFERENCES df_engine.instances (id) ON DELETE CASCADE,
    execution_id integer NOT NULL,
    status       text NOT NULL DEFAULT 'Running'
                 CHECK (status IN ('Running', 'Completed', 'Failed', 'Cancelled', 'ContinuedAsNew')),
    input        text,
    output       text,
    event_count  integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at     timestamptz,
    PRIMARY KEY (instance_id, execution_id)
);

-- Append-only event log of the current generation. Earlier generations' events are dropped
-- at continue-as-new, so history stays bounded however long a loop runs.
CREATE TABLE df_engine.history (
    instance_id  text NOT NULL,
    execution_id integer NOT NULL,
    seq          integer NOT NULL,
    event_type   text NOT NULL,
    task_id      integer,
    name         text,
    payload      text,
    event_time   timestamptz NOT NULL,
    PRIMARY KEY (instance_id, execution_id, seq)
);

-- Messages for orchestrations: starts, activity and child results, timers (visible at their
-- fire time), external events. execution_id NULL means "whichever generation is current".
CREATE TABLE df_engine.orchestrator_queue (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    execution_id integer,
    kind         text NOT NULL,
    task_id      integer,
    name         text,
    payload      text,
    visible_at   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orchestrator_queue_visible_idx ON df_engine.orchestrator_queue (visible_at);
CREATE INDEX orchestrator_queue_instance_idx ON df_engine.orchestrator_queue (instance_id);

-- Activity work items. A claim sets a lease: owner, a random token, and visible_at pushed to
-- the lease expiry, so an item whose worker died becomes claimable again on its own.
CREATE TABLE df_engine.activity_queue (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    execution_id integer NOT NULL,
    task_id      integer NOT NULL,
    name         text NOT NULL,
    input        text,
    visible_at   timestamptz NOT NULL DEFAULT now(),
    lease_owner  text,
    lease_token  uuid,
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (instance_id, execution_id, task_id)
);
CREATE INDEX activity_queue_visible_idx ON df_engine.activity_queue (visible_at);

-- Heartbeat row per running worker.
CREATE TABLE df_engine.workers (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          bigint NOT NULL,
    mode         text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ALL TABLES IN SCHEMA df_engine FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Functions. All run as the schema owner and pin search_path.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION df_engine.is_terminal(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_status IN ('Completed', 'Failed', 'Cancelled') $$;

CREATE FUNCTION df_engine.wake() RETURNS void
LANGUAGE sql
AS $$ SELECT pg_notify('df_engine', '') $$;

CREATE FUNCTION df_engine.start_orchestration(
    p_instance_id text,
    p_name        text,
    p_input       text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_instance_id IS NULL OR p_instance_id = '' THEN
        RAISE EXCEPTION 'orchestration instance id must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_name IS NULL OR p_name = '' THEN
        RAISE EXCEPTION 'orchestration name must not be empty' USING ERRCODE = '22023';
    END IF;
    BEGIN
        INSERT INTO df_engine.instances (id, name, input) VALUES (p_instance_id, p_name, p_input);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'orchestration instance "%" already exists', p_instance_id
            USING ERRCODE = '23505';
    END;
    INSERT INTO df_engine.executions (instance_id, execution_id, input)
    VALUES (p_instance_id, 1, p_input);
    INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, name, payload)
    VALUES (p_instance_id, 1, 'ExecutionStarted', p_name, p_input);
    PERFORM df_engine.wake();
    RETURN p_instance_id;
END
$$;

CREATE FUNCTION df_engine.raise_event(p_instance_id text, p_event_name text, p_data text DEFAULT NULL)
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

-- Cancels an instance and every non-terminal descendant at once: their queued messages,
-- timers and activity items are deleted, so no wait, timer or step of theirs runs again, and a
-- step in flight cannot record its completion. A parent that is not itself being cancelled is
-- told its child failed. Returns the number of instances cancelled (0 when already terminal).
CREATE FUNCTION df_engine.cancel(p_instance_id text, p_reason text DEFAULT 'Cancelled')
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
    DELETE FROM df_engine.activity_queue WHERE instance_id = ANY (v_ids);

    IF v_root.parent_id IS NOT NULL THEN
        INSERT INTO df_engine.orchestrator_queue (instance_id, execution_id, kind, task_id, payload)
        VALUES (v_root.parent_id, v_root.parent_execution_id, 'SubOrchestrationFailed', v_root.parent_task_id,
                json_build_object('type', 'Cancelled',
                                  'message', coalesce(p_reason, 'Cancelled'))::text);
    END IF;
    PERFORM df_engine.wake();
    RETURN cardinality(v_ids);
END
$$;

CREATE FUNCTION df_engine.get_instance(p_instance_id text)
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

CREATE FUNCTION df_engine.list_instances(p_status text DEFAULT NULL, p_limit integer DEFAULT 100)
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

-- Deletes terminal instances among p_ids (optionally only those that became terminal before
-- p_terminal_before, at most p_limit of them, oldest first) together with all their
-- descendants, histories, executions and queued work. Non-terminal instances in p_ids are
-- skipped, never deleted, and so is a terminal instance with a descendant still running (a
-- child it started without waiting for): it can be deleted once that child has ended.
-- Returns the ids of the deleted top-level instances.
CREATE FUNCTION df_engine.delete_instances(
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

-- Records an activity's result. Called by the worker, or by a SQL step inside the very
-- transaction that ran the user's statement, which makes that step exactly-once: both commit
-- or neither does. The lease token proves the caller holds the current claim; a stale or
-- forged token, a duplicate completion, or an instance cancelled meanwhile returns false, and
-- the caller must then roll its work back.
CREATE FUNCTION df_engine.complete_activity(
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

-- The exactly-once form: like complete_activity, but a refused completion raises, so the
-- caller's transaction (holding the activity's own work) cannot commit without it. The worker
-- sends it together with COMMIT in one round trip.
CREATE FUNCTION df_engine.complete_activity_or_fail(
    p_item_id bigint,
    p_token   uuid,
    p_result  text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT df_engine.complete_activity(p_item_id, p_token, p_result, false) THEN
        RAISE EXCEPTION 'activity item % is no longer leased with this token: it was completed already, taken over after its lease expired, or its instance was cancelled', p_item_id
            USING ERRCODE = '55000';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION df_engine.start_orchestration(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.raise_event(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.cancel(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.get_instance(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.list_instances(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.delete_instances(text[], timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION df_engine.wake() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION df_engine.complete_activity(bigint, uuid, text, boolean) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df_engine.complete_activity_or_fail(bigint, uuid, text) TO PUBLIC;
