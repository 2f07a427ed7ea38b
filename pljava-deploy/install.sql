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
-- advisory lock as `java -jar pg-durable.jar install`), and an installed jar is replaced, which
-- re-creates the Java functions and keeps every table and row.

\set ON_ERROR_STOP on
\if :{?jar}
\else
\echo 'usage: psql -d <database> -v jar=/absolute/path/to/pg-durable.jar -f pljava-deploy/install.sql'
\quit
\endif

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pljava;

BEGIN;
-- SchemaInstaller.SCHEMA_LOCK_KEY, derived from 'pg_durable:df_engine:schema_migrations'.
SELECT pg_advisory_xact_lock(-967880897120856539);
CREATE SCHEMA IF NOT EXISTS df_engine;
CREATE TABLE IF NOT EXISTS df_engine.schema_migrations (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

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
SELECT NOT EXISTS (SELECT 1 FROM df_engine.schema_migrations WHERE version = 10) AS pgd_apply \gset
\if :pgd_apply
\echo 'Applying 010_fair_share.sql'
\ir ../sql/010_fair_share.sql
INSERT INTO df_engine.schema_migrations (version, name) VALUES (10, '010_fair_share.sql');
\endif
COMMIT;

-- The jar, with its deployment descriptor: installing it runs the descriptor's INSTALL actions,
-- which create the Java-backed functions; replacing it runs REMOVE then INSTALL.
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
