-- df.metrics: totals over every role's instances; executable only by roles granted it.
BEGIN;
SELECT plan(8);

CREATE ROLE df_t036_alice LOGIN;
CREATE ROLE df_t036_bob LOGIN;
CREATE ROLE df_t036_admin LOGIN;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t036_alice', 'df_t036_bob', 'df_t036_admin']) r; END $$;
RESET client_min_messages;

-- Start from a known state: this database holds only the fixtures below.
DELETE FROM df.instances;
DELETE FROM df_engine.instances;

INSERT INTO df.instances (id, root_node, status, submitted_by, completed_at) VALUES
    ('a0360001', 'e0360001', 'running',   'df_t036_alice', NULL),
    ('a0360002', 'e0360002', 'completed', 'df_t036_alice', now()),
    ('a0360003', 'e0360003', 'failed',    'df_t036_alice', now()),
    ('b0360001', 'e0360004', 'completed', 'df_t036_bob',   now()),
    ('b0360002', 'e0360005', 'cancelled', 'df_t036_bob',   now()),
    ('b0360003', 'e0360006', 'pending',   'df_t036_bob',   NULL);
INSERT INTO df.nodes (instance_id, id, node_type, query, status, submitted_by)
SELECT i.id, i.root_node, 'SQL', 'SELECT 1', 'pending', i.submitted_by FROM df.instances i;
INSERT INTO df_engine.instances (id, name, status, execution_id) VALUES
    ('a0360001', 'df.function_graph', 'Running', 2),
    ('a0360001::1::e0360009', 'df.branch', 'Running', 1);
INSERT INTO df_engine.executions (instance_id, execution_id, status, event_count, ended_at) VALUES
    ('a0360001', 1, 'ContinuedAsNew', 10, now()),
    ('a0360001', 2, 'Running', 0, NULL),
    ('a0360001::1::e0360009', 1, 'Running', 0, NULL);
INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time)
SELECT 'a0360001', 2, g, 'Event', now() FROM generate_series(1, 3) g
UNION ALL
SELECT 'a0360001::1::e0360009', 1, g, 'Event', now() FROM generate_series(1, 2) g;

SELECT is(pg_get_function_result('df.metrics()'::regprocedure),
          'TABLE(total_instances bigint, running_instances bigint, completed_instances bigint, failed_instances bigint, total_executions bigint, total_events bigint)',
          'metrics: the original columns');
SELECT results_eq($$ SELECT * FROM df.metrics() $$,
    $$ VALUES (6::bigint, 1::bigint, 2::bigint, 1::bigint, 3::bigint, 15::bigint) $$,
    'metrics: instances by df status across all roles; engine generations and events');
SELECT is(has_function_privilege('df_t036_alice', 'df.metrics()', 'EXECUTE'), false,
          'an ordinary role cannot execute metrics');
SELECT is((SELECT count(*) FROM aclexplode((SELECT proacl FROM pg_proc WHERE oid = 'df.metrics()'::regprocedure))
            WHERE grantee = 0), 0::bigint, 'PUBLIC holds no EXECUTE on metrics');

SET ROLE df_t036_alice;
SELECT throws_ok($$ SELECT * FROM df.metrics() $$, '42501', 'permission denied for function metrics',
          'calling metrics as an ordinary role is refused');
RESET ROLE;

GRANT EXECUTE ON FUNCTION df.metrics() TO df_t036_admin;
SET ROLE df_t036_admin;
SELECT is((SELECT total_instances FROM df.metrics()), 6::bigint,
          'a role granted metrics sees totals over every role, though RLS hides the rows themselves');
SELECT is((SELECT count(*) FROM df.instances), 0::bigint, 'that role still sees no instance rows');
RESET ROLE;

SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df.metrics()'::regprocedure), true,
          'metrics is SECURITY DEFINER so its totals bypass RLS');

SELECT * FROM finish();
ROLLBACK;
