-- The value of a reconciliation setting in the server's configuration, as a new session of the
-- current role in this database would start with it, without the server's command line:
-- ALTER ROLE <current role> IN DATABASE <this> SET, ALTER ROLE <current role> SET, ALTER DATABASE
-- <this> SET, ALTER ROLE ALL SET, then the configuration files (postgresql.conf, the files it
-- includes, and ALTER SYSTEM's postgresql.auto.conf) as they are now. Nothing a session does
-- (SET, a function's SET clause, connection options) changes it. For these names, which no
-- loaded module defines, only a superuser may ALTER ROLE or DATABASE ... SET. Reading the
-- configuration files needs a superuser too (pg_file_settings).
CREATE OR REPLACE FUNCTION df_engine.reconcile_setting(p_name text) RETURNS text
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN coalesce(df._role_setting(p_name),
                    (SELECT f.setting FROM pg_catalog.pg_file_settings f
                      WHERE pg_catalog.lower(f.name) = pg_catalog.lower(p_name) AND f.applied
                      ORDER BY f.seqno DESC
                      LIMIT 1));
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_setting(text) FROM PUBLIC;

-- A reconciliation setting as a whole number: unset or blank means p_default; anything else that
-- is not a plain integer from 0 to p_max is an error naming the setting and the value (the same
-- rule and message as io.pgdurable.reconcile.ReconcileSettings).
CREATE OR REPLACE FUNCTION df_engine.reconcile_parse_setting(p_name text, p_raw text, p_default integer, p_max integer,
                                                  p_unit text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v text := btrim(p_raw, E' \t\n\r\f\v');
BEGIN
    IF v IS NULL OR v = '' THEN
        RETURN p_default;
    END IF;
    IF v !~ '^[0-9]{1,9}$' OR v::bigint > p_max THEN
        RAISE EXCEPTION '% must be a whole number of % between 0 and %, got ''%''', p_name, p_unit, p_max, p_raw
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN v::integer;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_parse_setting(text, text, integer, integer, text) FROM PUBLIC;

-- The hard cap, fair between roles. When more than p_hard_cap terminal instances are younger
-- than p_cutoff, the cap keeps them round-robin across submitting roles: every role's newest,
-- then every role's second newest, and so on (within one round, newer first, then the higher
-- id), until p_hard_cap are kept. Put another way: it removes the oldest instance of the role
-- that holds the most, again and again, until p_hard_cap are left. So one role's flood removes
-- its own history before anyone else's; with one role it is simply the newest p_hard_cap.
--
-- Returns, for each role that loses instances to the cap, its newest instance beyond the cap:
-- that one and every older one of the role go. No rows when the cap does not bite. It never
-- sorts every terminal instance: one scan counts each role's young instances, the "water level"
-- (how many of its newest each role keeps at most) follows from the counts alone, and a top-2
-- read per role at that level finds the edges.
CREATE OR REPLACE FUNCTION df_engine.reconcile_cap_boundaries(p_hard_cap integer, p_cutoff timestamptz)
    RETURNS TABLE (role oid, age timestamptz, id text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_roles   oid[];
    v_held    bigint[];
    v_newest  timestamptz;
    v_total   bigint;
    v_low     bigint;
    v_high    bigint;
    v_mid     bigint;
    v_at_level bigint;
    v_place   bigint := 0;
    v_keeping oid[] := '{}';
    r         record;
BEGIN
    SELECT array_agg(s.r ORDER BY s.r), array_agg(s.n ORDER BY s.r), max(s.newest), sum(s.n)
      INTO v_roles, v_held, v_newest, v_total
      FROM (SELECT i.submitted_by::oid AS r, count(*) AS n,
                   max(coalesce(i.terminal_at, i.created_at)) AS newest
              FROM df.instances i
             WHERE i.status IN ('completed', 'failed', 'cancelled')
               AND coalesce(i.terminal_at, i.created_at) >= p_cutoff
             GROUP BY i.submitted_by) s;
    IF v_total IS NULL OR v_total <= p_hard_cap THEN
        RETURN;
    END IF;
    -- The smallest level L such that keeping at most L of each role's instances keeps p_hard_cap.
    v_low := 1;
    SELECT max(h) INTO v_high FROM unnest(v_held) h;
    WHILE v_low < v_high LOOP
        v_mid := v_low + (v_high - v_low) / 2;
        IF (SELECT sum(least(h, v_mid)) FROM unnest(v_held) h) >= p_hard_cap THEN
            v_high := v_mid;
        ELSE
            v_low := v_mid + 1;
        END IF;
    END LOOP;
    -- Every rank below the level is kept; of the rank-L instances, the newest v_at_level are.
    v_at_level := p_hard_cap - (SELECT sum(least(h, v_low - 1)) FROM unnest(v_held) h);
    -- The rank-L and rank-(L+1) instances of every role that reaches the level, rank-L first,
    -- newest first. The upper age bound keeps instances finishing meanwhile from shifting ranks.
    FOR r IN
        SELECT e.role, e.pos, e.age, e.id
          FROM (SELECT rr.role, t.age, t.id,
                       row_number() OVER (PARTITION BY rr.role ORDER BY t.age DESC, t.id DESC) AS pos
                  FROM unnest(v_roles, v_held) AS rr(role, held)
                 CROSS JOIN LATERAL (
                       SELECT coalesce(i.terminal_at, i.created_at) AS age, i.id
                         FROM df.instances i
                        WHERE i.status IN ('completed', 'failed', 'cancelled')
                          AND coalesce(i.terminal_at, i.created_at) BETWEEN p_cutoff AND v_newest
                          AND i.submitted_by::oid OPERATOR(pg_catalog.=) rr.role
                        ORDER BY coalesce(i.terminal_at, i.created_at) DESC, i.id DESC
                       OFFSET v_low - 1 LIMIT 2) t
                 WHERE rr.held >= v_low) e
         ORDER BY e.pos, e.age DESC, e.id DESC
    LOOP
        IF r.pos = 1 THEN
            v_place := v_place + 1;
            IF v_place <= v_at_level THEN
                v_keeping := v_keeping || r.role;   -- keeps its rank-L instance, loses the next
            ELSE
                role := r.role; age := r.age; id := r.id;   -- loses its rank-L instance
                RETURN NEXT;
            END IF;
        ELSIF r.role = ANY (v_keeping) THEN
            role := r.role; age := r.age; id := r.id;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_cap_boundaries(integer, timestamptz) FROM PUBLIC;

-- One batch of expired terminal instances: the oldest p_limit terminal instances that are older
-- than p_cutoff or at or beyond their role's cap boundary (df_engine.reconcile_cap_boundaries,
-- passed as three parallel arrays; empty when the cap does not bite), skipping rows another
-- transaction holds, go with their engine records (children and history too) and their df.nodes
-- rows. selected is how many were taken: fewer than p_limit means nothing more is due.
CREATE OR REPLACE FUNCTION df_engine.reconcile_batch(p_cutoff timestamptz, p_cap_roles oid[], p_cap_ages timestamptz[],
                                          p_cap_ids text[], p_limit integer,
                                          OUT selected integer, OUT instances bigint, OUT nodes bigint,
                                          OUT engine bigint)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_ids text[];
BEGIN
    SELECT coalesce(array_agg(s.id), '{}') INTO v_ids
      FROM (SELECT i.id FROM df.instances i
              LEFT JOIN unnest(p_cap_roles, p_cap_ages, p_cap_ids) AS b(role, age, id)
                ON b.role OPERATOR(pg_catalog.=) i.submitted_by::oid
             WHERE i.status IN ('completed', 'failed', 'cancelled')
               AND (coalesce(i.terminal_at, i.created_at) < p_cutoff
                    OR (b.role IS NOT NULL
                        AND (coalesce(i.terminal_at, i.created_at), i.id) <= (b.age, b.id)))
             ORDER BY coalesce(i.terminal_at, i.created_at), i.id
             LIMIT p_limit
               FOR UPDATE OF i SKIP LOCKED) s;
    selected := cardinality(v_ids);
    instances := 0;
    nodes := 0;
    engine := 0;
    IF selected = 0 THEN
        RETURN;
    END IF;
    SELECT count(*) INTO engine FROM df_engine.delete_instances(v_ids);
    DELETE FROM df.nodes n WHERE n.instance_id = ANY (v_ids);
    GET DIAGNOSTICS nodes = ROW_COUNT;
    DELETE FROM df.instances i WHERE i.id = ANY (v_ids) AND i.status IN ('completed', 'failed', 'cancelled');
    GET DIAGNOSTICS instances = ROW_COUNT;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_batch(timestamptz, oid[], timestamptz[], text[], integer) FROM PUBLIC;

-- Orphaned engine records: graph orchestrations with no df row, that are not sub-orchestrations,
-- are terminal and older than p_cutoff, at most p_limit. Returns how many went.
CREATE OR REPLACE FUNCTION df_engine.reconcile_orphans(p_cutoff timestamptz, p_limit integer) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_ids text[];
    v_removed bigint;
BEGIN
    SELECT coalesce(array_agg(s.id), '{}') INTO v_ids
      FROM (SELECT e.id FROM df_engine.instances e
             WHERE e.name = 'df.function_graph'
               AND e.parent_id IS NULL
               AND strpos(e.id, '::') = 0
               AND e.status IN ('Completed', 'Failed', 'Cancelled')
               AND coalesce(e.completed_at, e.created_at) < p_cutoff
               AND NOT EXISTS (SELECT 1 FROM df.instances d WHERE d.id = e.id)
             ORDER BY coalesce(e.completed_at, e.created_at), e.id
             LIMIT p_limit) s;
    IF cardinality(v_ids) = 0 THEN
        RETURN 0;
    END IF;
    -- delete_instances re-checks terminal status and age itself, under row locks; a df row that
    -- appeared meanwhile is excluded by the NOT EXISTS in the same statement.
    SELECT count(*) INTO v_removed
      FROM df_engine.delete_instances(
               ARRAY(SELECT x FROM unnest(v_ids) AS x WHERE NOT EXISTS (SELECT 1 FROM df.instances d WHERE d.id = x)),
               p_cutoff, p_limit);
    RETURN v_removed;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_orphans(timestamptz, integer) FROM PUBLIC;

-- A whole reconciliation pass in the calling transaction (df.reconcile() calls it): takes the
-- lock, records the run, reads and checks the settings from the server's configuration, removes
-- expired terminal instances (at most p_hard_cap of them, in statements of p_batch_size) and
-- orphaned engine records (at most p_max_orphans), and returns the summary. A pass that cannot
-- take the lock does nothing and returns "skipped": true. A pass that fails removes nothing, and
-- its error is recorded and returned, not raised. p_now stands in for the clock in tests.
CREATE OR REPLACE FUNCTION df_engine.reconcile_pass(p_trigger text, p_worker_id text DEFAULT NULL,
                                         p_now timestamptz DEFAULT NULL,
                                         p_hard_cap integer DEFAULT 10000,
                                         p_max_orphans integer DEFAULT 1000,
                                         p_kept_runs integer DEFAULT 1000,
                                         p_batch_size integer DEFAULT 500) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_started   timestamptz := clock_timestamp();
    v_run_id    bigint;
    v_retention integer;
    v_interval  integer;
    v_settings  boolean := false;
    v_cutoff    timestamptz;
    v_cap_roles oid[];
    v_cap_ages  timestamptz[];
    v_cap_ids   text[];
    v_batch     record;
    v_want      integer;
    v_taken     bigint := 0;
    v_instances bigint := 0;
    v_nodes     bigint := 0;
    v_engine    bigint := 0;
    v_orphans   bigint := 0;
    v_more      boolean := false;
    v_error     text;
BEGIN
    BEGIN
        LOCK TABLE df_engine.reconcile_lock IN SHARE ROW EXCLUSIVE MODE NOWAIT;
    EXCEPTION WHEN lock_not_available THEN
        RETURN jsonb_build_object('skipped', true, 'instances_removed', 0, 'nodes_removed', 0,
                                  'engine_records_retired', 0, 'orphans_reclaimed', 0, 'more_remaining', false,
                                  'duration_ms', floor(extract(epoch FROM clock_timestamp() - v_started) * 1000),
                                  'settings', jsonb_build_object('hard_cap', p_hard_cap));
    END;
    INSERT INTO df.reconcile_runs (trigger, worker_id) VALUES (p_trigger, p_worker_id) RETURNING id INTO v_run_id;
    BEGIN
        v_retention := df_engine.reconcile_parse_setting('pg_durable.retention_days',
                           df_engine.reconcile_setting('pg_durable.retention_days'), 30, 36500, 'days');
        v_interval := df_engine.reconcile_parse_setting('pg_durable.reconcile_interval',
                           df_engine.reconcile_setting('pg_durable.reconcile_interval'), 3600, 86400, 'seconds');
        v_settings := true;
        -- Whole days of 24 hours, whatever the session's time zone (as the Java passes do).
        v_cutoff := coalesce(p_now, clock_timestamp()) - v_retention * interval '24 hours';
        SELECT coalesce(array_agg(b.role), '{}'), coalesce(array_agg(b.age), '{}'), coalesce(array_agg(b.id), '{}')
          INTO v_cap_roles, v_cap_ages, v_cap_ids
          FROM df_engine.reconcile_cap_boundaries(p_hard_cap, v_cutoff) b;
        LOOP
            v_want := least(p_batch_size, p_hard_cap - v_taken);
            SELECT * INTO v_batch FROM df_engine.reconcile_batch(v_cutoff, v_cap_roles, v_cap_ages, v_cap_ids, v_want);
            v_taken := v_taken + v_batch.selected;
            v_instances := v_instances + v_batch.instances;
            v_nodes := v_nodes + v_batch.nodes;
            v_engine := v_engine + v_batch.engine;
            EXIT WHEN v_batch.selected < v_want;
            IF v_taken >= p_hard_cap THEN
                v_more := true;  -- bounded: the next pass goes on
                EXIT;
            END IF;
        END LOOP;
        v_orphans := df_engine.reconcile_orphans(v_cutoff, p_max_orphans);
    EXCEPTION WHEN OTHERS THEN
        -- Everything since the BEGIN is rolled back: the pass removed nothing.
        GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
        v_instances := 0;
        v_nodes := 0;
        v_engine := 0;
        v_orphans := 0;
        v_more := false;
    END;
    UPDATE df.reconcile_runs
       SET finished_at = clock_timestamp(), retention_days = CASE WHEN v_settings THEN v_retention END,
           instances_removed = v_instances, nodes_removed = v_nodes, engine_records_retired = v_engine,
           orphans_reclaimed = v_orphans, error = v_error
     WHERE id = v_run_id;
    DELETE FROM df.reconcile_runs WHERE id <= v_run_id - p_kept_runs;
    RETURN jsonb_build_object('run_id', v_run_id, 'skipped', false, 'instances_removed', v_instances,
                              'nodes_removed', v_nodes, 'engine_records_retired', v_engine,
                              'orphans_reclaimed', v_orphans, 'more_remaining', v_more,
                              'duration_ms', floor(extract(epoch FROM clock_timestamp() - v_started) * 1000),
                              'settings', CASE WHEN v_settings
                                               THEN jsonb_build_object('retention_days', v_retention,
                                                                       'reconcile_interval', v_interval)
                                               ELSE '{}'::jsonb END || jsonb_build_object('hard_cap', p_hard_cap))
           || CASE WHEN v_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', v_error) END;
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.reconcile_pass(text, text, timestamptz, integer, integer, integer, integer) FROM PUBLIC;

-- One reconciliation pass now, as the function's owner (the installing superuser), in the
-- caller's transaction. It is SQL: no Java is on the stack while it works, so a terminate
-- request during it is handled like in any query, and it needs neither PL/Java nor a connection
-- of its own (pg_cron can call it). Until 0.2.0 it came with the PL/Java jar.
CREATE OR REPLACE FUNCTION df.reconcile() RETURNS jsonb
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df_engine.reconcile_pass('sql')
$fn$;
REVOKE ALL ON FUNCTION df.reconcile() FROM PUBLIC;
COMMENT ON FUNCTION df.reconcile() IS
    'One reconciliation pass now; returns what it removed. Not executable by PUBLIC.';
