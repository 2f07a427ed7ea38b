-- df.instance_nodes: stored columns plus the inferred status computed at read time from the
-- worker's stamps ('<orchestration id>::<generation>'). Rows are written directly, as the worker
-- would leave them.
BEGIN;
SELECT plan(26);

CREATE ROLE df_t032_alice LOGIN;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t032_alice']) r; END $$;
RESET client_min_messages;

INSERT INTO df.instances (id, root_node, status, submitted_by, completed_at) VALUES
    ('a0320001', 'f1000001', 'completed', 'df_t032_alice', now()),  -- IF, else arm not taken
    ('a0320002', 'f2000001', 'failed',    'df_t032_alice', now()),  -- THEN whose left side failed
    ('a0320003', 'f3000001', 'completed', 'df_t032_alice', now()),  -- RACE with a running loser
    ('a0320004', 'f4000001', 'running',   'df_t032_alice', NULL),   -- root LOOP now in generation 2
    ('a0320005', 'f5000001', 'running',   'df_t032_alice', NULL),   -- LOOP, generation 2 half done
    ('a0320006', 'f6000001', 'running',   'df_t032_alice', NULL),   -- LOOP, IF took the other arm now
    ('a0320007', 'f7000001', 'running',   'df_t032_alice', NULL),   -- JOIN branch spawned by gen 1
    ('a0320008', 'f8000001', 'running',   'df_t032_alice', NULL),   -- running/pending, odd stamps
    ('a0320009', 'f9000001', 'failed',    'df_t032_alice', now()),  -- join3, a branch failed
    ('a032000a', 'fa000001', 'cancelled', 'df_t032_alice', now());  -- cancelled during a JOIN

-- stamp(s): '<instance>::<generation>' JSON for status_details
CREATE FUNCTION pg_temp.st(p text) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object('execution_id', p) $$;

INSERT INTO df.nodes (instance_id, id, node_type, query, left_node, right_node, status, result, submitted_by, status_details) VALUES
    ('a0320001', 'f1000001', 'IF',   '{"condition_node":"f1000002"}', 'f1000003', 'f1000004', 'completed', '{"rows":[{"x":1}],"row_count":1}', 'df_t032_alice', pg_temp.st('a0320001::1')),
    ('a0320001', 'f1000002', 'SQL',  'SELECT true', NULL, NULL, 'completed', '{"rows":[{"bool":true}],"row_count":1}', 'df_t032_alice', pg_temp.st('a0320001::1')),
    ('a0320001', 'f1000003', 'SQL',  'SELECT 1 AS x', NULL, NULL, 'completed', '{"rows":[{"x":1}],"row_count":1}', 'df_t032_alice', pg_temp.st('a0320001::1')),
    ('a0320001', 'f1000004', 'SQL',  'SELECT 0 AS x', NULL, NULL, 'pending', NULL, 'df_t032_alice', NULL),

    ('a0320002', 'f2000001', 'THEN', NULL, 'f2000002', 'f2000003', 'failed', '"SQL execution failed: boom"', 'df_t032_alice', pg_temp.st('a0320002::1')),
    ('a0320002', 'f2000002', 'SQL',  'SELECT 1/0', NULL, NULL, 'failed', '"SQL execution failed: boom"', 'df_t032_alice', pg_temp.st('a0320002::1')),
    ('a0320002', 'f2000003', 'THEN', NULL, 'f2000004', 'f2000005', 'pending', NULL, 'df_t032_alice', NULL),
    ('a0320002', 'f2000004', 'SQL',  'SELECT 2', NULL, NULL, 'pending', NULL, 'df_t032_alice', NULL),
    ('a0320002', 'f2000005', 'SQL',  'SELECT 3', NULL, NULL, 'pending', NULL, 'df_t032_alice', NULL),

    ('a0320003', 'f3000001', 'RACE', NULL, 'f3000002', 'f3000003', 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320003::1')),
    ('a0320003', 'f3000002', 'SQL',  'SELECT ''winner''', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320003::1::f3000002::1')),
    ('a0320003', 'f3000003', 'SLEEP', '30', NULL, NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320003::1::f3000003::1')),

    ('a0320004', 'f4000001', 'LOOP', '{"condition_node":"f4000005"}', 'f4000002', NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320004::2')),
    ('a0320004', 'f4000002', 'THEN', NULL, 'f4000003', 'f4000004', 'completed', '{"slept": true, "seconds": 1}', 'df_t032_alice', pg_temp.st('a0320004::1')),
    ('a0320004', 'f4000003', 'SQL',  'INSERT INTO t VALUES (1)', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320004::1')),
    ('a0320004', 'f4000004', 'SLEEP', '1', NULL, NULL, 'completed', '{"slept": true, "seconds": 1}', 'df_t032_alice', pg_temp.st('a0320004::1')),
    ('a0320004', 'f4000005', 'SQL',  'SELECT true', NULL, NULL, 'completed', '{"rows":[{"bool":true}],"row_count":1}', 'df_t032_alice', pg_temp.st('a0320004::1')),

    ('a0320005', 'f5000001', 'LOOP', NULL, 'f5000002', NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320005::2')),
    ('a0320005', 'f5000002', 'THEN', NULL, 'f5000003', 'f5000004', 'running', NULL, 'df_t032_alice', pg_temp.st('a0320005::2')),
    ('a0320005', 'f5000003', 'SQL',  'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320005::2')),
    ('a0320005', 'f5000004', 'SQL',  'SELECT 2', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320005::1')),

    ('a0320006', 'f6000001', 'LOOP', NULL, 'f6000002', NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320006::2')),
    ('a0320006', 'f6000002', 'IF',   '{"condition_node":"f6000003"}', 'f6000004', 'f6000005', 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320006::2')),
    ('a0320006', 'f6000003', 'SQL',  'SELECT true', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320006::2')),
    ('a0320006', 'f6000004', 'SQL',  'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320006::2')),
    ('a0320006', 'f6000005', 'SQL',  'SELECT 0', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320006::1')),

    ('a0320007', 'f7000001', 'LOOP', NULL, 'f7000002', NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320007::2')),
    ('a0320007', 'f7000002', 'JOIN', NULL, 'f7000003', 'f7000004', 'running', NULL, 'df_t032_alice', pg_temp.st('a0320007::2')),
    ('a0320007', 'f7000003', 'SQL',  'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320007::1::f7000003::1')),
    ('a0320007', 'f7000004', 'SQL',  'SELECT pg_sleep(9)', NULL, NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320007::2::f7000004::1')),

    ('a0320008', 'f8000001', 'THEN', NULL, 'f8000002', 'f8000003', 'running', NULL, 'df_t032_alice', pg_temp.st('a0320008::1')),
    ('a0320008', 'f8000002', 'SQL',  'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320008::zz')),
    ('a0320008', 'f8000003', 'THEN', NULL, 'f8000004', 'f8000005', 'running', NULL, 'df_t032_alice', '{"execution_id": 7}'),
    ('a0320008', 'f8000004', 'SQL',  'SELECT 2', NULL, NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320008::1')),
    ('a0320008', 'f8000005', 'SQL',  'SELECT 3', NULL, NULL, 'pending', NULL, 'df_t032_alice', NULL),
    ('a0320008', 'f8000009', 'SQL',  'SELECT 9', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320008::1')),

    ('a0320009', 'f9000001', 'JOIN', '{"extra_nodes":["f9000004"]}', 'f9000002', 'f9000003', 'failed', '"JOIN branch 1 failed: x"', 'df_t032_alice', pg_temp.st('a0320009::1')),
    ('a0320009', 'f9000002', 'SQL',  'SELECT 1/0', NULL, NULL, 'failed', '"x"', 'df_t032_alice', pg_temp.st('a0320009::1::f9000002::1')),
    ('a0320009', 'f9000003', 'SQL',  'SELECT 2', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a0320009::1::f9000003::1')),
    ('a0320009', 'f9000004', 'SQL',  'SELECT pg_sleep(5)', NULL, NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a0320009::1::f9000004::1')),

    ('a032000a', 'fa000001', 'THEN', NULL, 'fa000002', 'fa000005', 'running', NULL, 'df_t032_alice', pg_temp.st('a032000a::1')),
    ('a032000a', 'fa000002', 'JOIN', NULL, 'fa000003', 'fa000004', 'running', NULL, 'df_t032_alice', pg_temp.st('a032000a::1')),
    ('a032000a', 'fa000003', 'SQL',  'SELECT 1', NULL, NULL, 'completed', '{"rows":[],"row_count":0}', 'df_t032_alice', pg_temp.st('a032000a::1::fa000003::1')),
    ('a032000a', 'fa000004', 'SQL',  'SELECT pg_sleep(600)', NULL, NULL, 'running', NULL, 'df_t032_alice', pg_temp.st('a032000a::1::fa000004::1')),
    ('a032000a', 'fa000005', 'SQL',  'SELECT 3', NULL, NULL, 'pending', NULL, 'df_t032_alice', NULL);

SELECT is(pg_get_function_result('df.instance_nodes(text)'::regprocedure),
          'TABLE(node_id text, node_type text, query text, result_name text, left_node text, right_node text, status text, result text, status_details text, inferred_status text, inferred_status_from_ancestor_id text, updated_at timestamp with time zone)',
          'instance_nodes(instance_id_param): the twelve original columns');
SELECT is(pg_get_function_arguments('df.instance_nodes(text)'::regprocedure), 'instance_id_param text',
          'instance_nodes: argument named instance_id_param');
SELECT is(pg_get_function_result('df.instance_nodes(text, integer)'::regprocedure),
          'TABLE(execution_id bigint, node_id text, node_type text, query text, result_name text, left_node text, right_node text, status text, result text, updated_at timestamp with time zone)',
          'legacy instance_nodes(text, integer): the ten pre-0.2.4 columns');

SET ROLE df_t032_alice;

CREATE FUNCTION pg_temp.inferred(p_instance text)
RETURNS TABLE (node_id text, inferred_status text, from_ancestor text)
LANGUAGE sql AS $$
    SELECT n.node_id, n.inferred_status, n.inferred_status_from_ancestor_id
      FROM df.instance_nodes(p_instance) n ORDER BY n.node_id
$$;

SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320001') $$,
    $$ VALUES ('f1000001'::text, 'completed'::text, NULL::text), ('f1000002', 'completed', NULL),
              ('f1000003', 'completed', NULL), ('f1000004', 'skipped', 'f1000001') $$,
    'IF: the untaken else arm is skipped, decided by the IF');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320002') $$,
    $$ VALUES ('f2000001'::text, 'failed'::text, NULL::text), ('f2000002', 'failed', NULL),
              ('f2000003', 'skipped', 'f2000001'), ('f2000004', 'skipped', 'f2000001'),
              ('f2000005', 'skipped', 'f2000001') $$,
    'THEN: everything right of a failed left side is skipped, decided by the failed THEN');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320003') $$,
    $$ VALUES ('f3000001'::text, 'completed'::text, NULL::text), ('f3000002', 'completed', NULL),
              ('f3000003', 'skipped', 'f3000001') $$,
    'RACE: the still-running loser is skipped, decided by the RACE');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320004') $$,
    $$ VALUES ('f4000001'::text, 'running'::text, NULL::text), ('f4000002', 'pending', 'f4000001'),
              ('f4000003', 'pending', 'f4000001'), ('f4000004', 'pending', 'f4000001'),
              ('f4000005', 'pending', 'f4000001') $$,
    'LOOP: body and while-condition finished in generation 1 read pending once generation 2 runs');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320005') $$,
    $$ VALUES ('f5000001'::text, 'running'::text, NULL::text), ('f5000002', 'running', NULL),
              ('f5000003', 'completed', NULL), ('f5000004', 'pending', 'f5000002') $$,
    'LOOP: a step done this generation is completed, one only done last generation is pending');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320006') $$,
    $$ VALUES ('f6000001'::text, 'running'::text, NULL::text), ('f6000002', 'completed', NULL),
              ('f6000003', 'completed', NULL), ('f6000004', 'completed', NULL),
              ('f6000005', 'skipped', 'f6000002') $$,
    'LOOP: the arm an IF took last generation but not this one is skipped by the current IF');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320007') $$,
    $$ VALUES ('f7000001'::text, 'running'::text, NULL::text), ('f7000002', 'running', NULL),
              ('f7000003', 'pending', 'f7000002'), ('f7000004', 'running', NULL) $$,
    'a branch orchestration spawned by an older loop generation is superseded; the current one is not');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320008') $$,
    $$ VALUES ('f8000001'::text, 'running'::text, NULL::text), ('f8000002', 'completed', NULL),
              ('f8000003', 'running', NULL), ('f8000004', 'running', NULL),
              ('f8000005', 'pending', NULL), ('f8000009', 'completed', NULL) $$,
    'running and pending nodes keep their status; malformed stamps count as unstamped; unreachable nodes keep their stored status');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a0320009') $$,
    $$ VALUES ('f9000001'::text, 'failed'::text, NULL::text), ('f9000002', 'failed', NULL),
              ('f9000003', 'completed', NULL), ('f9000004', 'skipped', 'f9000001') $$,
    'JOIN: a third (extra) branch still running under a failed JOIN is skipped');
SELECT results_eq($$ SELECT * FROM pg_temp.inferred('a032000a') $$,
    $$ VALUES ('fa000001'::text, 'cancelled'::text, NULL::text), ('fa000002', 'cancelled', NULL),
              ('fa000003', 'completed', NULL), ('fa000004', 'cancelled', NULL), ('fa000005', 'pending', NULL) $$,
    'cancelled instance: nodes it left running are cancelled; finished ones keep their status, the rest stay pending');

SELECT is(ARRAY(SELECT node_id FROM df.instance_nodes('a0320001')),
          ARRAY['f1000001', 'f1000002', 'f1000003', 'f1000004'],
          'rows come in pre-order from the root (IF: condition, then, else)');
SELECT is(ARRAY(SELECT node_id FROM df.instance_nodes('a0320008')),
          ARRAY['f8000001', 'f8000002', 'f8000003', 'f8000004', 'f8000005', 'f8000009'],
          'unreachable nodes come last');
SELECT results_eq(
    $$ SELECT node_type, query, left_node, right_node, status, result, status_details
         FROM df.instance_nodes('a0320001') WHERE node_id = 'f1000001' $$,
    $$ VALUES ('IF'::text, '{"condition_node":"f1000002"}'::text, 'f1000003'::text, 'f1000004'::text,
               'completed'::text, '{"rows": [{"x": 1}], "row_count": 1}'::text,
               '{"execution_id": "a0320001::1"}'::text) $$,
    'stored columns are returned as stored; result and status_details as jsonb text');
SELECT is((SELECT count(*) FROM df.instance_nodes('a0320001') WHERE updated_at IS NULL), 0::bigint,
          'updated_at is returned');
SELECT is((SELECT count(*) FROM df.instance_nodes('ffffffff')), 0::bigint,
          'an unknown instance has no rows');
SELECT is((SELECT count(*) FROM df.instance_nodes(NULL)), 0::bigint,
          'NULL instance id: no rows (STRICT)');

-- Legacy overload: plain projection, no inference.
SELECT results_eq(
    $$ SELECT execution_id, node_id, node_type, status, result FROM df.instance_nodes('a0320003', 3) ORDER BY node_id $$,
    $$ VALUES (1::bigint, 'f3000001'::text, 'RACE'::text, 'completed'::text, '{"rows": [], "row_count": 0}'::text),
              (1, 'f3000002', 'SQL', 'completed', '{"rows": [], "row_count": 0}'),
              (1, 'f3000003', 'SLEEP', 'running', NULL) $$,
    'legacy overload: execution_id 1, stored status, no inference');
SELECT is((SELECT count(*) FROM df.instance_nodes('a0320003', NULL)), 0::bigint,
          'legacy overload is STRICT');

-- The same inference feeds df.explain.
SELECT ok(df.explain('a0320003') LIKE '%└─SLEEP 30s ⊘%', 'explain marks the RACE loser skipped');
SELECT ok(df.explain('a0320004') LIKE E'%LOOP (while) ⏳%↻ body:%└─SQL: INSERT INTO t VALUES (1) ○%→ SLEEP 1s ○%? while:%└─SQL: SELECT true ○%',
          'explain shows the superseded loop body as pending');
SELECT ok(df.explain('a0320006') LIKE E'%✗ else:%└─SQL: SELECT 0 ⊘%', 'explain marks the untaken arm skipped');

RESET ROLE;

-- Stamps with nested lineage parse into scopes from the innermost orchestration outward.
SELECT results_eq($$ SELECT scopes, gens FROM df._stamp_lineage('r::1::n1::3::n2::8') $$,
    $$ VALUES (ARRAY['r::1::n1::3::n2', 'r::1::n1', 'r'], ARRAY[8, 3, 1]::bigint[]) $$,
    '_stamp_lineage: innermost scope first, then each spawning scope with its generation');
SELECT results_eq($$ SELECT count(*) FROM (VALUES ('r'), ('r::x'), ('::1'), ('r::1::'), ('r::1::::2'), ('r::y::n::1'), ('r::1::n')) v(s),
                           LATERAL df._stamp_lineage(v.s) l WHERE l.scopes IS NOT NULL $$,
    $$ VALUES (0::bigint) $$,
    '_stamp_lineage: malformed stamps have no lineage');

SELECT * FROM finish();
ROLLBACK;
