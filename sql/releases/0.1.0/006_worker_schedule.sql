-- Scheduling the in-database worker (df.run_worker, installed with the PL/Java jar) with pg_cron.
-- These are plain SQL so they exist with or without PL/Java; they explain what is missing.

CREATE FUNCTION df.schedule_worker(seconds integer DEFAULT 55) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_job text := 'pg_durable_worker_' || current_database();
    v_cmd text := format('SELECT df.run_worker(%s)', seconds);
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
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = '55000',
                  HINT = format('In the database named by cron.database_name, run: SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                v_job, '* * * * *', v_cmd, current_database());
    END IF;
    RETURN cron.schedule(v_job, '* * * * *', v_cmd);
END
$$;

CREATE FUNCTION df.unschedule_worker() RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regnamespace('cron') IS NULL THEN
        RAISE EXCEPTION 'pg_cron is not installed in database %', current_database()
            USING ERRCODE = '55000',
                  HINT = format('In the database named by cron.database_name, run: SELECT cron.unschedule(%L);',
                                'pg_durable_worker_' || current_database());
    END IF;
    RETURN cron.unschedule('pg_durable_worker_' || current_database());
END
$$;

REVOKE ALL ON FUNCTION df.schedule_worker(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION df.unschedule_worker() FROM PUBLIC;
