-- Graph runtime: signals, and the helpers the worker's graph orchestration calls inside its turns.
--
-- Signals meet their waits here, in df, rather than in the engine: a SIGNAL node may run in the
-- root orchestration, in a JOIN/RACE branch or in a loop iteration (each its own engine instance),
-- and a signal may arrive before, during or after the wait. df.signal hands a signal to the oldest
-- wait for that name, or buffers it; a wait that starts takes the oldest buffered signal. Both
-- sides lock the instance row, so every signal goes to exactly one wait or stays buffered; none is
-- dropped.

CREATE SEQUENCE df.signal_seq;

CREATE TABLE df.signal_buffer (
    seq         bigint PRIMARY KEY DEFAULT nextval('df.signal_seq'),
    instance_id varchar(8) NOT NULL REFERENCES df.instances (id) ON DELETE CASCADE,
    signal_name text NOT NULL,
    data        jsonb,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signal_buffer_lookup_idx ON df.signal_buffer (instance_id, signal_name, seq);

-- One row per wait in progress. event_name is unique to the wait, so a signal routed to a wait
-- that timed out meanwhile can never be consumed by a later wait of the same engine instance:
-- the finishing turn puts it back in the buffer instead.
CREATE TABLE df.signal_waits (
    instance_id     varchar(8) NOT NULL REFERENCES df.instances (id) ON DELETE CASCADE,
    wait_key        text NOT NULL,
    signal_name     text NOT NULL,
    engine_instance text NOT NULL,
    event_name      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    routed_seq      bigint,
    routed_data     jsonb,
    PRIMARY KEY (instance_id, wait_key)
);
CREATE INDEX signal_waits_lookup_idx ON df.signal_waits (instance_id, signal_name, created_at);

REVOKE ALL ON df.signal_buffer, df.signal_waits FROM PUBLIC;

-- Hands a signal to the oldest open wait, or buffers it. Caller must hold the instance row lock.
CREATE FUNCTION df._route_signal(p_instance_id text, p_name text, p_data jsonb, p_seq bigint)
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

CREATE FUNCTION df._signal(p_instance_id text, p_signal_name text, p_data jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_inst df.instances%ROWTYPE;
BEGIN
    SELECT * INTO v_inst FROM df.instances WHERE id = p_instance_id FOR UPDATE;
    -- The session may act for the submitter (superusers and members of its role may).
    IF NOT FOUND OR NOT pg_has_role(session_user, v_inst.submitted_by, 'MEMBER') THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    IF v_inst.status IN ('completed', 'failed', 'cancelled') THEN
        RAISE EXCEPTION 'Instance % is %: signals can only be sent to pending or running instances',
            p_instance_id, v_inst.status USING ERRCODE = '55000';
    END IF;
    PERFORM df._route_signal(p_instance_id, p_signal_name, p_data, nextval('df.signal_seq'));
END
$$;

CREATE FUNCTION df.signal(instance_id text, signal_name text, signal_data text DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $$
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
    BEGIN
        v_data := signal_data::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        v_data := to_jsonb(signal_data);
    END;
    PERFORM df._signal(instance_id, signal_name, v_data);
    RETURN 'OK';
END
$$;

-- Called by the worker when a SIGNAL node starts waiting (in that turn's transaction).
CREATE FUNCTION df._begin_signal_wait(p_instance_id text, p_wait_key text, p_signal_name text,
                                      p_engine_instance text, p_event_name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_buf df.signal_buffer%ROWTYPE;
BEGIN
    PERFORM 1 FROM df.instances WHERE id = p_instance_id FOR UPDATE;
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
$$;

-- Called by the worker when a SIGNAL wait ends. A signal routed to a wait that timed out was never
-- consumed: it goes back to the buffer (in its original place) for the next wait.
CREATE FUNCTION df._end_signal_wait(p_instance_id text, p_wait_key text, p_timed_out boolean)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_wait df.signal_waits%ROWTYPE;
BEGIN
    PERFORM 1 FROM df.instances WHERE id = p_instance_id FOR UPDATE;
    DELETE FROM df.signal_waits WHERE instance_id = p_instance_id AND wait_key = p_wait_key
    RETURNING * INTO v_wait;
    IF p_timed_out AND v_wait.routed_seq IS NOT NULL THEN
        PERFORM df._route_signal(p_instance_id, v_wait.signal_name, v_wait.routed_data, v_wait.routed_seq);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION df._route_signal(text, text, jsonb, bigint) FROM PUBLIC;
-- df.signal runs as its caller and calls this; the membership check above is the guard.
GRANT EXECUTE ON FUNCTION df._signal(text, text, jsonb) TO PUBLIC;
REVOKE ALL ON FUNCTION df._begin_signal_wait(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION df._end_signal_wait(text, text, boolean) FROM PUBLIC;
