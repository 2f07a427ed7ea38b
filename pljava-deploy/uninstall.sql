-- pg_durable for Java: remove the Java functions and the jar, keeping the data by default.
--
--   psql -d mydb -f pljava-deploy/uninstall.sql                     # keep df and df_engine
--   psql -d mydb -v drop_data=true -f pljava-deploy/uninstall.sql   # also drop them, with every row
--
-- Run as a superuser. Unschedule the worker first if pg_cron runs it (df.unschedule_worker()).

\set ON_ERROR_STOP on
SET client_min_messages = warning;

SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pljava') AS pgd_pljava \gset
\if :pgd_pljava
SELECT EXISTS (SELECT 1 FROM sqlj.jar_repository WHERE jarname = 'pg_durable') AS pgd_jar_installed \gset
\if :pgd_jar_installed
-- The classpath first, then the jar: removing it runs the descriptor's REMOVE actions, which drop
-- the Java-backed functions and nothing else.
SELECT sqlj.set_classpath('df', '');
SELECT sqlj.remove_jar('pg_durable', true);
\echo 'Removed the Java functions and the jar pg_durable.'
\else
\echo 'No jar pg_durable is installed.'
\endif
\endif

\if :{?drop_data}
\else
\set drop_data false
\endif
\if :drop_data
DROP SCHEMA IF EXISTS df CASCADE;         -- with the operators that use its functions
DROP SCHEMA IF EXISTS df_engine CASCADE;
\echo 'Dropped the df and df_engine schemas and all their data.'
\else
\echo 'Kept the df and df_engine schemas and their data. To drop them as well, run again with -v drop_data=true.'
\endif
