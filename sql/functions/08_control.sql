-- ---------------------------------------------------------------------------------------------
-- Instance control
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.status(instance_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT i.status FROM df.instances i WHERE i.id = $1
$fn$;

CREATE OR REPLACE FUNCTION df.result(instance_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT n.result::text
      FROM df.instances i
      JOIN df.nodes n ON n.instance_id = i.id AND n.id = i.root_node
     -- The instance must have completed too: a df.break() outside any loop completes its
     -- node (and the root) but fails the instance.
     WHERE i.id = $1 AND i.status = 'completed' AND n.status = 'completed'
$fn$;

-- Cancels an instance that the calling role p_role may act for (df.cancel passes current_user
-- and its key; see df._acts_as): the engine instance and its children stop (their queued work is
-- deleted), and a non-terminal df status becomes 'cancelled'.
CREATE OR REPLACE FUNCTION df._cancel(p_instance_id text, p_reason text, p_role regrole, p_key uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_submitter regrole;
BEGIN
    SELECT i.submitted_by INTO v_submitter FROM df.instances i WHERE i.id = p_instance_id;
    IF NOT FOUND
       OR NOT df._acts_as(p_role, p_key)
       OR NOT coalesce(pg_has_role(p_role::oid, v_submitter::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    -- Engine first: a worker turn locks the engine instance before it writes df status, so
    -- taking the locks in the same order cannot deadlock with it.
    IF EXISTS (SELECT 1 FROM df_engine.instances e WHERE e.id = p_instance_id) THEN
        PERFORM df_engine.cancel(p_instance_id, p_reason);
    END IF;
    UPDATE df.instances i
       SET status = 'cancelled', terminal_at = now(), updated_at = now()
     WHERE i.id = p_instance_id AND i.status NOT IN ('completed', 'failed', 'cancelled');
    RETURN format('Instance %s cancelled: %s', p_instance_id, p_reason);
END
$fn$;

CREATE OR REPLACE FUNCTION df.cancel(instance_id text, reason text DEFAULT 'Cancelled by user') RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = $1) THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', $1 USING ERRCODE = '42704';
    END IF;
    RETURN df._cancel($1, $2, quote_ident(current_user)::regrole, df._caller_key());
END
$fn$;

CREATE OR REPLACE FUNCTION df.await_instance(instance_id text, timeout_seconds integer DEFAULT 30) RETURNS text
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

CREATE OR REPLACE FUNCTION df.wait_for_completion(instance_id text, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE WARNING 'df.wait_for_completion() is deprecated; use df.await_instance() instead';
    RETURN df.await_instance($1, $2);
END
$fn$;

-- Whether an activity item is still leased with this token: false once it was completed, taken
-- over after its lease expired, or deleted by a cancel. A step calls it right before its SQL,
-- inside the step's own transaction (any role may, like complete_activity: the unguessable token
-- is the guard, and the answer says nothing about anyone else's work).
-- PL/pgSQL rather than SQL: a SQL function with a SET clause is parsed and planned again on
-- every call, and this one runs before every step.
CREATE OR REPLACE FUNCTION df_engine.activity_lease_held(p_item_id bigint, p_token uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM df_engine.activity_queue q
                    WHERE q.id = p_item_id AND q.lease_token = p_token);
END
$$;
REVOKE ALL ON FUNCTION df_engine.activity_lease_held(bigint, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION df_engine.activity_lease_held(bigint, uuid) TO PUBLIC;

-- What a SQL step may leave in its session, undone by the worker inside the step's own
-- transaction, right before its COMMIT and in the same round trip as its completion: everything
-- DISCARD ALL undoes (cursors, a changed session user, settings, LISTENs, session advisory locks,
-- temporary tables, sequence state, statements prepared with SQL PREPARE) except the server's
-- cached plans and the driver's own protocol-level statements. If the transaction rolls back, the
-- worker resets the session again after it (io.pgdurable.graph.step.StepConnections).
--
-- It runs as its caller (the submitting role, on its own session) and has no SET clause, which
-- would keep a search_path the step set: so everything in it is schema-qualified, and nothing in
-- it resolves through the role's search_path. Settings are reset before the COMMIT, so the role's
-- deferred triggers fire with the role's own settings, not with what the step's SQL SET.
CREATE OR REPLACE FUNCTION df_engine.reset_step_session() RETURNS void
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_name pg_catalog.text;  -- even a type name would resolve through the role's search_path
BEGIN
    EXECUTE 'CLOSE ALL';
    SET SESSION AUTHORIZATION DEFAULT;
    RESET ALL;
    UNLISTEN *;
    PERFORM pg_catalog.pg_advisory_unlock_all();
    DISCARD TEMP;
    DISCARD SEQUENCES;
    FOR v_name IN SELECT p.name FROM pg_catalog.pg_prepared_statements p WHERE p.from_sql LOOP
        EXECUTE pg_catalog.format('DEALLOCATE %I', v_name);
    END LOOP;
END
$fn$;
GRANT EXECUTE ON FUNCTION df_engine.reset_step_session() TO PUBLIC;
