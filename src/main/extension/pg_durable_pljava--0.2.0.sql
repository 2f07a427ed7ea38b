-- pg_durable_pljava 0.2.0: the in-database worker, df.run_worker(), hosted by PL/Java.
\echo Use "CREATE EXTENSION pg_durable_pljava CASCADE" to load this file. \quit

-- PL/Java does not let a jar be installed while an extension is being created or updated
-- ("A jar cannot (yet) be installed as an extension in its own right"). So this script declares
-- the functions, and the jar, which `java -jar pg-durable.jar install-extension` put at
-- <sharedir>/pg_durable/pg-durable-0.2.0.jar, is installed (or replaced by this version's) on the
-- first df.run_worker() call, by df._pljava_ensure_jar(). Until then the Java functions have no
-- classes; only df.run_worker() calls them, and it ensures the jar first.
SET search_path = pg_catalog, pg_temp;

-- A jar of that name installed another way (pljava-deploy/install.sql) would be replaced.
DO $pgd$
BEGIN
    IF EXISTS (SELECT 1 FROM sqlj.jar_repository WHERE jarname OPERATOR(pg_catalog.=) 'pg_durable') THEN
        RAISE EXCEPTION 'pg_durable_pljava: a jar named pg_durable is already installed in this database (by pljava-deploy/install.sql?)'
            USING ERRCODE = '42710',
                  HINT = 'Remove it first with SELECT sqlj.remove_jar(''pg_durable'', true); then create the extension again.';
    END IF;
END
$pgd$;

CREATE FUNCTION df._pljava_ensure_jar() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_url    text;
    v_origin text;
BEGIN
    SELECT 'file:' OPERATOR(pg_catalog.||) setting OPERATOR(pg_catalog.||) '/pg_durable/pg-durable-0.2.0.jar'
      INTO v_url FROM pg_catalog.pg_config WHERE name OPERATOR(pg_catalog.=) 'SHAREDIR';
    SELECT jarorigin INTO v_origin FROM sqlj.jar_repository WHERE jarname OPERATOR(pg_catalog.=) 'pg_durable';
    IF v_origin IS NOT DISTINCT FROM v_url THEN
        RETURN;
    END IF;
    IF v_origin IS NULL THEN
        PERFORM sqlj.install_jar(v_url, 'pg_durable', false);
    ELSE
        PERFORM sqlj.replace_jar(v_url, 'pg_durable', false);
    END IF;
    PERFORM sqlj.set_classpath('df', 'pg_durable');
END
$fn$;
REVOKE ALL ON FUNCTION df._pljava_ensure_jar() FROM PUBLIC;
COMMENT ON FUNCTION df._pljava_ensure_jar() IS
    'Installs this version''s jar into PL/Java as pg_durable unless it is installed already. Not executable by PUBLIC.';

CREATE FUNCTION df._worker_start(seconds integer) RETURNS text
    LANGUAGE javaU VOLATILE
    AS 'io.pgdurable.pljava.Functions.startWorker';
REVOKE ALL ON FUNCTION df._worker_start(integer) FROM PUBLIC;
CREATE FUNCTION df._worker_poll() RETURNS text[]
    LANGUAGE javaU VOLATILE
    AS 'io.pgdurable.pljava.Functions.pollWorker';
REVOKE ALL ON FUNCTION df._worker_poll() FROM PUBLIC;
CREATE FUNCTION df._worker_stop() RETURNS text
    LANGUAGE javaU VOLATILE
    AS 'io.pgdurable.pljava.Functions.stopWorker';
REVOKE ALL ON FUNCTION df._worker_stop() FROM PUBLIC;
CREATE FUNCTION df.run_worker(seconds integer DEFAULT 55) RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS '
-- The waiting happens here, in pg_sleep, never inside Java: a backend told to terminate while a
-- Java frame calls into it would abort in PL/Java''s JVM teardown (see InDatabaseWorker.java).
DECLARE
    deadline timestamptz;
    line text;
BEGIN
    IF seconds IS NULL OR seconds NOT BETWEEN 1 AND 3600 THEN
        RAISE EXCEPTION ''df.run_worker: seconds must be between 1 and 3600, got %'', coalesce(seconds::text, ''NULL'')
            USING ERRCODE = ''invalid_parameter_value'';
    END IF;
    -- One in-database worker per database; the lock goes with the calling transaction. A row
    -- lock only the owner can take (df_engine.locks), not an advisory key any role could hold.
    PERFORM 1 FROM df_engine.locks WHERE name = ''run_worker'' FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN jsonb_build_object(''ran'', false, ''reason'', ''another df.run_worker() is running in this database'');
    END IF;
    PERFORM df._pljava_ensure_jar();
    PERFORM df._worker_start(seconds);
    -- The worker runs for seconds from its start: the first call in a backend also starts the JVM,
    -- which takes under a second on an idle server and much longer on a loaded one.
    deadline := clock_timestamp() + make_interval(secs => seconds);
    BEGIN
        LOOP
            FOREACH line IN ARRAY df._worker_poll() LOOP
                RAISE WARNING ''pg_durable worker: %'', line;
            END LOOP;
            EXIT WHEN clock_timestamp() >= deadline;
            PERFORM pg_sleep(least(0.1, extract(epoch FROM deadline - clock_timestamp())));
        END LOOP;
    EXCEPTION WHEN query_canceled OR others THEN
        -- Cancelled, timed out or failed: no worker thread outlives the call.
        PERFORM df._worker_stop();
        RAISE;
    END;
    RETURN df._worker_stop()::jsonb;
END';
REVOKE ALL ON FUNCTION df.run_worker(integer) FROM PUBLIC;
COMMENT ON FUNCTION df.run_worker(integer) IS
    'Hosts the pg_durable worker in this backend for the given seconds; returns what it did. Not executable by PUBLIC.';
