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
CREATE OR REPLACE FUNCTION df._signal_data_problem(p_data jsonb) RETURNS text
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

-- ---------------------------------------------------------------------------------------------
-- Privileges of the functions above
-- ---------------------------------------------------------------------------------------------

REVOKE ALL ON FUNCTION df._signal_data_problem(jsonb) FROM PUBLIC;

-- Hands a signal to the oldest open wait, or buffers it. Caller must hold the instance row lock.
CREATE OR REPLACE FUNCTION df._route_signal(p_instance_id text, p_name text, p_data jsonb, p_seq bigint)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_wait df.signal_waits%ROWTYPE;
BEGIN
    LOOP
        SELECT * INTO v_wait
          FROM df.signal_waits
         WHERE instance_id = p_instance_id AND signal_name = p_name AND routed_seq IS NULL
         ORDER BY created_at, wait_key
         LIMIT 1;
        IF NOT FOUND THEN
            INSERT INTO df.signal_buffer (seq, instance_id, signal_name, data)
            VALUES (p_seq, p_instance_id, p_name, p_data);
            RETURN;
        END IF;
        -- A wait whose engine instance has ended (cancelled branch) will never take it.
        IF EXISTS (SELECT 1 FROM df_engine.instances e
                    WHERE e.id = v_wait.engine_instance AND NOT df_engine.is_terminal(e.status)) THEN
            UPDATE df.signal_waits SET routed_seq = p_seq, routed_data = p_data
             WHERE instance_id = v_wait.instance_id AND wait_key = v_wait.wait_key;
            PERFORM df_engine.raise_event(v_wait.engine_instance, v_wait.event_name, p_data::text);
            RETURN;
        END IF;
        DELETE FROM df.signal_waits WHERE instance_id = v_wait.instance_id AND wait_key = v_wait.wait_key;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION df._route_signal(text, text, jsonb, bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df._signal(p_instance_id text, p_signal_name text, p_data jsonb, p_role regrole,
                                      p_key uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_inst    record;
    v_problem text;
BEGIN
    -- No lock: the signal is only inserted, and the worker routes it.
    SELECT i.status, i.submitted_by INTO v_inst FROM df.instances i WHERE i.id = p_instance_id;
    -- The calling role (df.signal passes current_user and its key; see df._acts_as) may act for
    -- the submitter: it is the submitter, a member of its role, or a superuser.
    IF NOT FOUND OR NOT df._acts_as(p_role, p_key)
       OR NOT coalesce(pg_has_role(p_role::oid, v_inst.submitted_by::oid, 'MEMBER'), false) THEN
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
-- df.signal runs as its caller and calls this; the membership check above is the guard.

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
    PERFORM df._signal(instance_id, signal_name, v_data, quote_ident(current_user)::regrole, df._caller_key());
    RETURN 'OK';
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
REVOKE ALL ON FUNCTION df._begin_signal_wait(text, text, text, text, text) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION df._end_signal_wait(text, text, boolean) FROM PUBLIC;

-- Hands the oldest buffered signals named p_name to the oldest open waits for that name, as
-- long as there are both. The caller holds the instance row lock.
CREATE OR REPLACE FUNCTION df._match_signals(p_instance_id text, p_name text) RETURNS void
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
REVOKE ALL ON FUNCTION df._match_signals(text, text) FROM PUBLIC;

-- Run by the worker (see io.pgdurable.graph.SignalRouter), in a transaction of its own: routes
-- the signals sent since the last run, for at most p_limit instances. An instance whose row is
-- locked (a turn is writing it) is skipped and counted in remaining, for the next run.
CREATE OR REPLACE FUNCTION df._route_signals(p_limit integer, OUT routed integer, OUT remaining integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_inst record;
    v_name text;
BEGIN
    routed := 0;
    remaining := 0;
    -- Most runs find nothing to route: the partial index answers that alone.
    IF NOT EXISTS (SELECT 1 FROM df.signal_buffer b WHERE b.needs_routing) THEN
        RETURN;
    END IF;
    -- Signals whose instance was deleted while they were being sent: nobody can take them.
    DELETE FROM df.signal_buffer b
     WHERE b.needs_routing AND NOT EXISTS (SELECT 1 FROM df.instances i WHERE i.id = b.instance_id);
    FOR v_inst IN
        SELECT i.id, i.status FROM df.instances i
         WHERE i.id IN (SELECT b.instance_id FROM df.signal_buffer b WHERE b.needs_routing)
         LIMIT p_limit
           FOR NO KEY UPDATE OF i SKIP LOCKED
    LOOP
        -- The signals this run routes are the ones marked now, and their marks go first: a
        -- signal that commits while the run matches keeps its mark for the next run. (Clearing
        -- the marks after matching cleared that one's too, unseen, and it was never routed.)
        FOR v_name IN
            WITH unmarked AS (
                UPDATE df.signal_buffer b SET needs_routing = false
                 WHERE b.instance_id = v_inst.id AND b.needs_routing
                RETURNING b.signal_name)
            SELECT DISTINCT u.signal_name FROM unmarked u
        LOOP
            -- Signals still buffered when an instance ends are never delivered.
            IF v_inst.status NOT IN ('completed', 'failed', 'cancelled') THEN
                PERFORM df._match_signals(v_inst.id, v_name);
            END IF;
        END LOOP;
        routed := routed + 1;
    END LOOP;
    SELECT count(DISTINCT b.instance_id) INTO remaining FROM df.signal_buffer b WHERE b.needs_routing;
END
$fn$;
REVOKE ALL ON FUNCTION df._route_signals(integer) FROM PUBLIC;
