-- df.explain on live instances: header (engine status, output), tree with inferred status
-- markers. The instances are written directly, as df.start and the worker would leave them.
BEGIN;
SELECT plan(11);

CREATE ROLE df_t034_alice LOGIN;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t034_alice']) r; END $$;
RESET client_min_messages;

CREATE FUNCTION pg_temp.st(p text) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object('execution_id', p) $$;

INSERT INTO df.instances (id, label, root_node, status, submitted_by, completed_at) VALUES
    ('a1b2c3d4', 'test-explain', 'e0340001', 'completed', 'df_t034_alice', now()),
    ('a0340002', NULL,           'e0340011', 'running',   'df_t034_alice', NULL),
    ('a0340003', 'nightly',      'e0340021', 'failed',    'df_t034_alice', now()),
    ('a0340004', NULL,           'e0340031', 'cancelled', 'df_t034_alice', now()),
    ('a0340005', NULL,           'e0340041', 'pending',   'df_t034_alice', NULL),
    ('a0340006', NULL,           'e0340051', 'pending',   'df_t034_alice', NULL);   -- nodes never written
INSERT INTO df.nodes (instance_id, id, node_type, query, left_node, right_node, status, result, submitted_by, status_details) VALUES
    -- 'SELECT 1' ~> 'SELECT 2', completed
    ('a1b2c3d4', 'e0340001', 'THEN', NULL, 'e0340002', 'e0340003', 'completed', '{"rows":[{"?column?":2}],"row_count":1}', 'df_t034_alice', pg_temp.st('a1b2c3d4::1')),
    ('a1b2c3d4', 'e0340002', 'SQL', 'SELECT 1', NULL, NULL, 'completed', '{"rows":[{"?column?":1}],"row_count":1}', 'df_t034_alice', pg_temp.st('a1b2c3d4::1')),
    ('a1b2c3d4', 'e0340003', 'SQL', 'SELECT 2', NULL, NULL, 'completed', '{"rows":[{"?column?":2}],"row_count":1}', 'df_t034_alice', pg_temp.st('a1b2c3d4::1')),
    -- 'SELECT 1' ~> df.sleep(60) ~> 'SELECT 3', in the sleep
    ('a0340002', 'e0340011', 'THEN', NULL, 'e0340012', 'e0340015', 'running', NULL, 'df_t034_alice', pg_temp.st('a0340002::1')),
    ('a0340002', 'e0340012', 'THEN', NULL, 'e0340013', 'e0340014', 'running', NULL, 'df_t034_alice', pg_temp.st('a0340002::1')),
    ('a0340002', 'e0340013', 'SQL', 'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t034_alice', pg_temp.st('a0340002::1')),
    ('a0340002', 'e0340014', 'SLEEP', '60', NULL, NULL, 'running', NULL, 'df_t034_alice', pg_temp.st('a0340002::1')),
    ('a0340002', 'e0340015', 'SQL', 'SELECT 3', NULL, NULL, 'pending', NULL, 'df_t034_alice', NULL),
    -- df.if('SELECT 1/0', 'SELECT 1', 'SELECT 0') |=> 'r' ~> 'SELECT $r', condition failed
    ('a0340003', 'e0340021', 'THEN', NULL, 'e0340022', 'e0340026', 'failed', '"boom"', 'df_t034_alice', pg_temp.st('a0340003::1')),
    ('a0340003', 'e0340022', 'IF', '{"condition_node":"e0340023"}', 'e0340024', 'e0340025', 'failed', '"boom"', 'df_t034_alice', pg_temp.st('a0340003::1')),
    ('a0340003', 'e0340023', 'SQL', 'SELECT 1/0', NULL, NULL, 'failed', '"boom"', 'df_t034_alice', pg_temp.st('a0340003::1')),
    ('a0340003', 'e0340024', 'SQL', 'SELECT 1', NULL, NULL, 'pending', NULL, 'df_t034_alice', NULL),
    ('a0340003', 'e0340025', 'SQL', 'SELECT 0', NULL, NULL, 'pending', NULL, 'df_t034_alice', NULL),
    ('a0340003', 'e0340026', 'SQL', 'SELECT $r', NULL, NULL, 'pending', NULL, 'df_t034_alice', NULL),
    -- df.wait_for_signal('go'), cancelled while waiting
    ('a0340004', 'e0340031', 'SIGNAL', '{"signal_name":"go","timeout_seconds":null}', NULL, NULL, 'running', NULL, 'df_t034_alice', pg_temp.st('a0340004::1')),
    -- not started yet
    ('a0340005', 'e0340041', 'SQL', 'SELECT 1', NULL, NULL, 'pending', NULL, 'df_t034_alice', NULL);
UPDATE df.nodes SET result_name = 'r' WHERE id = 'e0340022';
INSERT INTO df_engine.instances (id, name, status, output, execution_id, completed_at) VALUES
    ('a1b2c3d4', 'df.function_graph', 'Completed', '{"rows":[{"?column?":2}],"row_count":1}', 1, now()),
    ('a0340003', 'df.function_graph', 'Failed',
     '{"type":"TaskFailed","message":"SQL execution failed: error returned from database: division by zero"}', 1, now()),
    ('a0340004', 'df.function_graph', 'Cancelled', '"Cancelled by user"', 1, now()),
    ('a0340005', 'df.function_graph', 'Pending', NULL, 1, NULL);

SET ROLE df_t034_alice;

SELECT is(df.explain('a1b2c3d4'),
          E'Instance: a1b2c3d4 (test-explain)\n'
          'Status:   ✓ Completed\n'
          'Output:   {"rows":[{"?column?":2}],"row_count":1}\n'
          '\n'
          'SQL: SELECT 1 ✓      \n'
          '→ SQL: SELECT 2 ✓    ',
          'the original''s example, byte for byte: header, blank line, padded tree with markers');
SELECT is(df.explain(E' a1b2c3d4\n'), df.explain('a1b2c3d4'), 'surrounding whitespace around an id is ignored');
SELECT is(df.explain('a0340002'),
          E'Instance: a0340002\n'
          'Status:   ⏳ running\n'
          '\n'
          'SQL: SELECT 1 ✓      \n'
          '→ SLEEP 60s ⏳        \n'
          '→ SQL: SELECT 3 ○    ',
          'no label, no engine record: the df status, no output line; running and pending markers');
SELECT is(df.explain('a0340003'),
          E'Instance: a0340003 (nightly)\n'
          'Status:   ✗ Failed\n'
          'Output:   {"type":"TaskFailed","message":"SQL execution failed: err...\n'
          '\n'
          'IF |=> ''r'' ✗                 \n'
          '    ? condition:             \n'
          '      └─SQL: SELECT 1/0 ✗    \n'
          '    ✓ then:                  \n'
          '      └─SQL: SELECT 1 ⊘      \n'
          '    ✗ else:                  \n'
          '      └─SQL: SELECT 0 ⊘      \n'
          '→ SQL: SELECT $r ⊘           ',
          'failed: output cut to 57 bytes + ..., untaken arms and later steps skipped');
SELECT is(df.explain('a0340004'),
          E'Instance: a0340004\n'
          'Status:   ✗ Cancelled\n'
          'Output:   "Cancelled by user"\n'
          '\n'
          'SIGNAL ''go'' ✗    ',
          'cancelled: engine status with ✗, and ✗ for the node it stopped');
SELECT is(df.explain('a0340005'),
          E'Instance: a0340005\n'
          'Status:   ○ Pending\n'
          '\n'
          'SQL: SELECT 1 ○    ',
          'pending instance');
SELECT is(df.explain('a0340006'), 'No nodes found for instance ''a0340006''', 'an instance without nodes');
SELECT is(df.explain('0badc0de'), 'Instance ''0badc0de'' not found', 'an unknown id');
SELECT is(df.explain('A1B2C3D4'), 'Instance ''A1B2C3D4'' not found', 'ids are lowercase: an uppercase id is not found');
SELECT is(df.explain('a1b2c3d'), E'Cannot explain input: not a valid Durofut JSON, instance ID, SQL statement, or DSL expression.\nHint: DSL expressions use df.*() functions and operators like ~>, |=>, &, |.',
          'seven hex digits are not an instance id');

-- The markers are the inferred statuses of df.instance_nodes.
SELECT is(ARRAY(SELECT inferred_status FROM df.instance_nodes('a0340003')),
          ARRAY['failed', 'failed', 'failed', 'skipped', 'skipped', 'skipped'],
          'instance_nodes agrees with the markers');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
