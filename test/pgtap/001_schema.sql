-- The schema installer's work: the df_engine schema, its migration ledger, and version 1 recorded.
BEGIN;
SELECT plan(4);

SELECT has_schema('df_engine', 'schema df_engine exists');
SELECT has_table('df_engine', 'schema_migrations', 'the migration ledger df_engine.schema_migrations exists');
SELECT col_is_pk('df_engine', 'schema_migrations', 'version', 'the ledger is keyed by version');
SELECT is(
    (SELECT name FROM df_engine.schema_migrations WHERE version = 1),
    '001_engine.sql',
    'version 1 is recorded as 001_engine.sql');

SELECT * FROM finish();
ROLLBACK;
