-- The schema installer's work: the df_engine schema, its ledger, and the baseline step recorded.
BEGIN;
SELECT plan(7);

SELECT has_schema('df_engine', 'schema df_engine exists');
SELECT has_table('df_engine', 'schema_files', 'the ledger df_engine.schema_files exists');
SELECT col_is_pk('df_engine', 'schema_files', 'file', 'the ledger is keyed by file');
SELECT is(
    (SELECT kind || ' ' || release FROM df_engine.schema_files WHERE file = 'steps/001_baseline.sql'),
    'step 0.1.0',
    'the baseline step is recorded as a step of release 0.1.0');
SELECT ok(
    (SELECT bool_and(checksum ~ '^[0-9a-f]{64}$') FROM df_engine.schema_files),
    'every recorded file has a SHA-256 checksum');

SELECT is(
    (SELECT array_agg(c.relname::text || ':' || array_to_string(c.reloptions, ',') ORDER BY c.relname)
       FROM pg_class c
      WHERE c.oid IN ('df_engine.activity_queue'::regclass, 'df_engine.orchestrator_queue'::regclass)),
    ARRAY['activity_queue:vacuum_truncate=false', 'orchestrator_queue:vacuum_truncate=false'],
    'vacuum does not shrink the queue tables, so a claim planned while a queue was empty still reads it by index (step 014)');

SELECT hasnt_index('df_engine', 'orchestrator_queue', 'orchestrator_queue_visible_idx',
    'the orchestrator queue has no index on visible_at alone: claims read it per partition key (step 015)');

SELECT * FROM finish();
ROLLBACK;
