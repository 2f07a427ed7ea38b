-- Scheduling the in-database worker (df.run_worker, installed with the PL/Java jar) with pg_cron.
-- These are plain SQL so they exist with or without PL/Java; they explain what is missing.

CREATE OR REPLACE FUNCTION df.schedule_worker(seconds integer DEFAULT 55) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_db      text := current_database();
    v_job     text := 'pg_durable_worker_' || current_database();
    v_cmd     text := format('SELECT df.run_worker(%s)', seconds);
    v_cron_db text;
    v_there   text;
BEGIN
    IF seconds IS NULL OR seconds < 1 OR seconds > 59 THEN
        RAISE EXCEPTION 'df.schedule_worker: seconds must be between 1 and 59, so that a run ends before cron starts the next one a minute later; got %', coalesce(seconds::text, 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF to_regprocedure('df.run_worker(integer)') IS NULL THEN
        RAISE EXCEPTION 'df.run_worker() is not installed: it comes with the PL/Java jar (pljava-deploy/install.sql)'
            USING ERRCODE = '42883';
    END IF;
    IF to_regnamespace('cron') IS NULL THEN
        -- What to run depends on where pg_cron lives: its extension can only be created in the
        -- database named by cron.database_name. That setting is visible to superusers and members
        -- of pg_read_all_settings; for others the hint names the setting instead.
        SELECT s.setting INTO v_cron_db FROM pg_settings s WHERE s.name = 'cron.database_name';
        v_there := format('SELECT cron.schedule_in_database(%L, %L, %L, %L);', v_job, '* * * * *', v_cmd, v_db);
        IF v_cron_db = v_db THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: this is pg_cron''s database (cron.database_name), but its extension has not been created here', v_db
                USING ERRCODE = '55000',
                      HINT = format('Run in database "%s": CREATE EXTENSION pg_cron; SELECT df.schedule_worker(%s);', v_db, seconds);
        ELSIF v_cron_db IS NOT NULL THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: pg_cron lives in database "%" (cron.database_name)', v_db, v_cron_db
                USING ERRCODE = '55000',
                      HINT = format('Run in database "%s": CREATE EXTENSION IF NOT EXISTS pg_cron; %s', v_cron_db, v_there);
        ELSIF pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: the server does not load pg_cron', v_db
                USING ERRCODE = '55000',
                      HINT = 'In postgresql.conf set shared_preload_libraries = ''pg_cron'' and cron.database_name = ''<the database for pg_cron>'', restart the server, run CREATE EXTENSION pg_cron; in that database, and call df.schedule_worker() again.';
        ELSE
            RAISE EXCEPTION 'pg_cron is not installed in database %', v_db
                USING ERRCODE = '55000',
                      HINT = format('In the database named by cron.database_name, run: CREATE EXTENSION IF NOT EXISTS pg_cron; %s (If that is database "%s", run CREATE EXTENSION pg_cron; there, then SELECT df.schedule_worker(%s);)',
                                    v_there, v_db, seconds);
        END IF;
    END IF;
    RETURN cron.schedule(v_job, '* * * * *', v_cmd);
END
$$;

REVOKE ALL ON FUNCTION df.schedule_worker(integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df.unschedule_worker() RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_db      text := current_database();
    v_job     text := 'pg_durable_worker_' || current_database();
    v_cron_db text;
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        SELECT s.setting INTO v_cron_db FROM pg_settings s WHERE s.name = 'cron.database_name';
        IF v_cron_db = v_db THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: this is pg_cron''s database (cron.database_name), but its extension has not been created here, so no job can be scheduled', v_db
                USING ERRCODE = '55000',
                      HINT = format('Nothing to unschedule. To schedule the worker, run in database "%s": CREATE EXTENSION pg_cron; SELECT df.schedule_worker();', v_db);
        ELSIF v_cron_db IS NOT NULL THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: pg_cron lives in database "%" (cron.database_name)', v_db, v_cron_db
                USING ERRCODE = '55000',
                      HINT = format('Run in database "%s": SELECT cron.unschedule(%L);', v_cron_db, v_job);
        ELSIF pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') THEN
            RAISE EXCEPTION 'pg_cron is not installed in database %: the server does not load pg_cron, so no job can be scheduled', v_db
                USING ERRCODE = '55000',
                      HINT = 'Nothing to unschedule.';
        ELSE
            RAISE EXCEPTION 'pg_cron is not installed in database %', v_db
                USING ERRCODE = '55000',
                      HINT = format('In the database named by cron.database_name, run: SELECT cron.unschedule(%L);', v_job);
        END IF;
    END IF;
    RETURN cron.unschedule(v_job);
END
$$;
REVOKE ALL ON FUNCTION df.unschedule_worker() FROM PUBLIC;
