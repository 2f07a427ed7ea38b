-- df.instance_info and df.instance_executions.
BEGIN;
SELECT plan(17);

CREATE ROLE df_t035_alice LOGIN;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t035_alice']) r; END $$;
RESET client_min_messages;

INSERT INTO df.instances (id, label, root_node, status, submitted_by, completed_at) VALUES
    ('a0350001', 'loop', 'e0350001', 'running', 'df_t035_alice', NULL),
    ('a0350002', NULL, 'e0350002', 'completed', 'df_t035_alice', now());
INSERT INTO df.nodes (instance_id, id, node_type, query, left_node, status, submitted_by) VALUES
    ('a0350001', 'e0350001', 'LOOP', NULL, 'e0350003', 'running', 'df_t035_alice'),
    ('a0350001', 'e0350003', 'SQL', 'SELECT 1', NULL, 'pending', 'df_t035_alice'),
    ('a0350002', 'e0350002', 'SQL', 'SELECT 1', NULL, 'completed', 'df_t035_alice');
INSERT INTO df_engine.instances (id, name, status, output, execution_id) VALUES
    ('a0350001', 'df.function_graph', 'Running', NULL, 3);
INSERT INTO df_engine.executions (instance_id, execution_id, status, output, event_count, started_at, ended_at) VALUES
    ('a0350001', 1, 'ContinuedAsNew', '{"iteration":1}', 7, '2026-01-01 00:00:00+00', '2026-01-01 00:00:01.5+00'),
    ('a0350001', 2, 'ContinuedAsNew', '{"iteration":2}', 9, '2026-01-01 00:00:02+00', '2026-01-01 00:00:04.25+00'),
    ('a0350001', 3, 'Running', NULL, 0, '2026-01-01 00:00:05+00', NULL);
INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
SELECT 'a0350001', 3, g, 'Event', now() FROM generate_series(1, 4) g;

SELECT is(pg_get_function_result('df.instance_info(text)'::regprocedure),
          'TABLE(instance_id text, label text, function_name text, function_version text, current_execution_id bigint, status text, output text)',
          'instance_info: the original columns');
SELECT is(pg_get_function_arguments('df.instance_executions(text, integer)'::regprocedure),
          'instance_id text, limit_count integer DEFAULT 5', 'instance_executions: arguments and default');
SELECT is(pg_get_function_result('df.instance_executions(text, integer)'::regprocedure),
          'TABLE(execution_id bigint, status text, event_count bigint, duration_ms bigint, output text)',
          'instance_executions: the original columns');

SET ROLE df_t035_alice;

SELECT results_eq($$ SELECT * FROM df.instance_info('a0350001') $$,
    $$ VALUES ('a0350001'::text, 'loop'::text, 'df.function_graph'::text, '1.0.0'::text, 3::bigint, 'running'::text, NULL::text) $$,
    'instance_info: df label and status, engine name, version, generation and output');
SELECT results_eq($$ SELECT * FROM df.instance_info('a0350002') $$,
    $$ VALUES ('a0350002'::text, NULL::text, NULL::text, NULL::text, NULL::bigint, 'completed'::text, NULL::text) $$,
    'instance_info: an instance without engine record still has its row, engine columns NULL');
SELECT is((SELECT count(*) FROM df.instance_info('ffffffff')), 0::bigint, 'instance_info: unknown id, no row');
SELECT is((SELECT count(*) FROM df.instance_info(NULL)), 0::bigint, 'instance_info: NULL id, no row');

SELECT results_eq($$ SELECT * FROM df.instance_executions('a0350001') $$,
    $$ VALUES (3::bigint, 'Running'::text, 4::bigint, 0::bigint, NULL::text),
              (2, 'ContinuedAsNew', 9, 2250, '{"iteration":2}'),
              (1, 'ContinuedAsNew', 7, 1500, '{"iteration":1}') $$,
    'executions newest first; the running generation counts its history and has no duration yet');
SELECT is(ARRAY(SELECT execution_id FROM df.instance_executions('a0350001', 2)), ARRAY[3, 2]::bigint[],
          'limit_count keeps the newest generations');
SELECT is((SELECT count(*) FROM df.instance_executions('a0350001', 2000000000)), 3::bigint,
          'a huge limit_count is clamped, not an error');
SELECT throws_ok($$ SELECT * FROM df.instance_executions('a0350001', 0) $$, '22023', 'limit_count must be at least 1',
          'limit_count 0 is rejected');
SELECT throws_ok($$ SELECT * FROM df.instance_executions('ffffffff', -1) $$, '22023', 'limit_count must be at least 1',
          'limit_count is checked before the id');
SELECT is((SELECT count(*) FROM df.instance_executions('a0350001', NULL)), 0::bigint, 'NULL limit_count: no rows (STRICT)');
SELECT is((SELECT count(*) FROM df.instance_executions('a0350002')), 0::bigint,
          'an instance without engine record has no executions');
SELECT is((SELECT count(*) FROM df.instance_executions('ffffffff')), 0::bigint, 'unknown id: no rows');
RESET ROLE;

-- A cancelled generation was not totalled by the engine: its history is counted.
UPDATE df_engine.executions SET status = 'Cancelled', ended_at = '2026-01-01 00:00:06+00'
 WHERE instance_id = 'a0350001' AND execution_id = 3;
SET ROLE df_t035_alice;
SELECT results_eq($$ SELECT execution_id, status, event_count, duration_ms FROM df.instance_executions('a0350001', 1) $$,
    $$ VALUES (3::bigint, 'Cancelled'::text, 4::bigint, 1000::bigint) $$,
    'a cancelled generation: events from its history, duration until cancellation');
SELECT is((SELECT count(*) FROM df.instance_executions(instance_id => 'a0350001', limit_count => 10)), 3::bigint,
          'named arguments work');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
