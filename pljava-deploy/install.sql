-- pg_durable for Java: install, or upgrade in place, for PL/Java users.
--
-- Run as a superuser, in the database that should hold pg_durable, with the absolute path of the
-- built jar (the server's OS user must be able to read it):
--
--   psql -d mydb -v jar=/absolute/path/to/target/pg-durable.jar -f pljava-deploy/install.sql
--
-- Optional: -v admin_role=<role> grants that role USAGE on schema df and EXECUTE on the admin
-- functions (df.reconcile, df.run_worker, df.metrics, df.schedule_worker, df.unschedule_worker).
--
-- Safe to run again: schema migrations already applied are skipped (the same ledger and
-- lock as `java -jar pg-durable.jar install`), and an installed jar is replaced, which
-- re-creates the Java functions and keeps every table and row.

\set ON_ERROR_STOP on
\if :{?jar}
\else
\echo 'usage: psql -d <database> -v jar=/absolute/path/to/pg-durable.jar -f pljava-deploy/install.sql'
\quit
\endif

SET client_min_messages = warning;
-- No name in this script may resolve to an object in a schema other roles can write (a
-- look-alike public.nextval(text) would be bound into a column default), as with SchemaInstaller.
SET search_path = pg_catalog, pg_temp;
CREATE EXTENSION IF NOT EXISTS pljava;

BEGIN;
CREATE SCHEMA IF NOT EXISTS df_engine;
CREATE TABLE IF NOT EXISTS df_engine.schema_migrations (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
-- Refuse schemas or a ledger that another role owns (SchemaInstaller.checkOwnership), then take
-- the install lock (SchemaInstaller.LOCK_STATEMENT), which only the ledger's owner can take.
-- Two first installs at once: the later one fails with a unique violation; run it again.
DO $pgd$
DECLARE
    v_what  text;
    v_owner text;
BEGIN
    SELECT x.what, x.owner INTO v_what, v_owner
      FROM (SELECT 'schema ' OPERATOR(pg_catalog.||) n.nspname AS what,
                   pg_catalog.pg_get_userbyid(n.nspowner) AS owner
              FROM pg_catalog.pg_namespace n
             WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['df_engine', 'df']::pg_catalog.name[])
               AND n.nspowner OPERATOR(pg_catalog.<>)
                   (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
            UNION ALL
            SELECT 'table df_engine.schema_migrations', pg_catalog.pg_get_userbyid(t.relowner)
              FROM pg_catalog.pg_class t
             WHERE t.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('df_engine.schema_migrations')
               AND t.relowner OPERATOR(pg_catalog.<>)
                   (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)) x
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'pg_durable: % already exists and is owned by role "%", not by the installing role "%"; refusing to install into it, since its owner could replace what is installed there. Drop it, or if you trust it, make "%" its owner, then install again.',
            v_what, v_owner, CURRENT_USER, CURRENT_USER USING ERRCODE = '42501';
    END IF;
END
$pgd$;
LOCK TABLE df_engine.schema_migrations IN SHARE ROW EXCLUSIVE MODE;

-- One block per line of sql/migrations.list (a build test keeps them in step).
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 1) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 001_engine.sql'
\ir ../sql/001_engine.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (1, '001_engine.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 2) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 002_control_plane.sql'
\ir ../sql/002_control_plane.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (2, '002_control_plane.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 3) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 003_monitoring.sql'
\ir ../sql/003_monitoring.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (3, '003_monitoring.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 4) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 004_graph_runtime.sql'
\ir ../sql/004_graph_runtime.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (4, '004_graph_runtime.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 5) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 005_reconcile.sql'
\ir ../sql/005_reconcile.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (5, '005_reconcile.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 6) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 006_worker_schedule.sql'
\ir ../sql/006_worker_schedule.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (6, '006_worker_schedule.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 7) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 007_node_constraints.sql'
\ir ../sql/007_node_constraints.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (7, '007_node_constraints.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 8) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 008_history_length.sql'
\ir ../sql/008_history_length.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (8, '008_history_length.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 9) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 009_privileges.sql'
\ir ../sql/009_privileges.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (9, '009_privileges.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 10) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 010_fair_share.sql'
\ir ../sql/010_fair_share.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (10, '010_fair_share.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 12) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 012_cancel.sql'
\ir ../sql/012_cancel.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (12, '012_cancel.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 13) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 013_reconcile_lock.sql'
\ir ../sql/013_reconcile_lock.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (13, '013_reconcile_lock.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 14) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 014_cancel_tree.sql'
\ir ../sql/014_cancel_tree.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (14, '014_cancel_tree.sql');
\endif
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 15) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 015_input_limits.sql'
\ir ../sql/015_input_limits.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (15, '015_input_limits.sql');
\endif
COMMIT;

-- The jar, with its deployment descriptor: installing it runs the descriptor's INSTALL actions,
-- which create the Java-backed functions; replacing it runs REMOVE then INSTALL. While they run,
-- PL/Java puts the jar on the class path of the first schema in search_path: df, which the
-- installing role owns (checked above), so the functions it creates there find their classes.
SET search_path = df, pg_catalog, pg_temp;
SELECT EXISTS (SELECT 1 FROM sqlj.jar_repository WHERE jarname = 'pg_durable') AS pgd_jar_installed \gset
\set pgd_jar_url 'file:' :jar
\if :pgd_jar_installed
\echo 'Replacing the installed jar pg_durable'
SELECT sqlj.replace_jar(:'pgd_jar_url', 'pg_durable', true);
\else
\echo 'Installing the jar pg_durable'
SELECT sqlj.install_jar(:'pgd_jar_url', 'pg_durable', true);
\endif
-- Java functions in schema df find their classes in the jar.
SELECT sqlj.set_classpath('df', 'pg_durable');
SET search_path = pg_catalog, pg_temp;

-- Ownership and grants: the Java functions belong to the installing superuser and PUBLIC may not
-- run them (the descriptor revokes it); an admin role may be named to run them. df.reconcile()
-- and df.run_worker() are SECURITY DEFINER: whoever may call them, the pass and the worker act
-- as that superuser (the Java helpers behind them stay closed to everyone else).
\if :{?admin_role}
GRANT USAGE ON SCHEMA df TO :"admin_role";
GRANT EXECUTE ON FUNCTION df.reconcile(), df.run_worker(integer), df.metrics(),
    df.schedule_worker(integer), df.unschedule_worker() TO :"admin_role";
\endif

\echo 'pg_durable is installed. Try: SELECT df.reconcile();'
