-- Row-level isolation of every monitoring function: a role sees nothing of another role's
-- instances, not even through the SECURITY DEFINER engine helpers when it passes their ids.
BEGIN;
SELECT plan(45);

CREATE ROLE df_t031_alice LOGIN;
CREATE ROLE df_t031_bob LOGIN;
CREATE ROLE df_t031_ops LOGIN;          -- a login role that may act for alice
GRANT df_t031_alice TO df_t031_ops;
-- The privileges an application role gets from df.grant_usage().
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage(r) FROM unnest(ARRAY['df_t031_alice', 'df_t031_bob', 'df_t031_ops']) r; END $$;
RESET client_min_messages;

INSERT INTO df.instances (id, label, root_node, status, submitted_by, completed_at) VALUES
    ('a0310001', 'alice-job', 'a1310001', 'completed', 'df_t031_alice', now()),
    ('b0310001', 'bob-job',   'b1310001', 'running',   'df_t031_bob',   NULL);
INSERT INTO df.nodes (id, instance_id, node_type, query, left_node, right_node, status, result, submitted_by, status_details) VALUES
    ('a1310001', 'a0310001', 'THEN', NULL, 'a2310001', 'a3310001', 'completed', '{"rows": [], "row_count": 0}', 'df_t031_alice', '{"execution_id": "a0310001::1"}'),
    ('a2310001', 'a0310001', 'SQL', 'SELECT 1', NULL, NULL, 'completed', '{"rows": [], "row_count": 0}', 'df_t031_alice', '{"execution_id": "a0310001::1"}'),
    ('a3310001', 'a0310001', 'SQL', 'SELECT 2', NULL, NULL, 'completed', '{"rows": [], "row_count": 0}', 'df_t031_alice', '{"execution_id": "a0310001::1"}'),
    ('b1310001', 'b0310001', 'SQL', 'SELECT pg_sleep(60)', NULL, NULL, 'running', NULL, 'df_t031_bob', '{"execution_id": "b0310001::1"}');
INSERT INTO df_engine.instances (id, name, status, output, execution_id, completed_at) VALUES
    ('a0310001', 'df.function_graph', 'Completed', '{"rows":[],"row_count":0}', 1, now()),
    ('b0310001', 'df.function_graph', 'Running', NULL, 1, NULL);
INSERT INTO df_engine.executions (instance_id, execution_id, status, output, event_count, ended_at) VALUES
    ('a0310001', 1, 'Completed', '{"rows":[],"row_count":0}', 6, now()),
    ('b0310001', 1, 'Running', NULL, 0, NULL);
INSERT INTO df_engine.history (instance_id, execution_id, seq, event_type, event_time) VALUES
    ('b0310001', 1, 1, 'ExecutionStarted', now()),
    ('b0310001', 1, 2, 'TaskScheduled', now());

-- ---------------------------------------------------------------------------------------------
-- Alice, logged in as herself (session_user = current_user = alice)
-- ---------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION df_t031_alice;

SELECT is(ARRAY(SELECT instance_id FROM df.list_instances()), ARRAY['a0310001'],
          'list_instances (basic): alice sees only her instance');
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances(NULL, 100, NULL)), ARRAY['a0310001'],
          'list_instances (paginated): alice sees only her instance');
SELECT is((SELECT count(*) FROM df.list_instances(NULL, 100, 'bob-job')), 0::bigint,
          'list_instances: filtering by bob''s label finds nothing');
SELECT is((SELECT function_name FROM df.list_instances()), 'df.function_graph',
          'list_instances: alice gets the engine columns of her own instance');
SELECT is((SELECT count(*) FROM df.instance_info('b0310001')), 0::bigint,
          'instance_info: bob''s instance is invisible to alice');
SELECT is((SELECT current_execution_id FROM df.instance_info('a0310001')), 1::bigint,
          'instance_info: alice sees her own instance with engine columns');
SELECT is((SELECT count(*) FROM df.instance_executions('b0310001')), 0::bigint,
          'instance_executions: nothing for bob''s instance');
SELECT is((SELECT count(*) FROM df.instance_executions('a0310001')), 1::bigint,
          'instance_executions: alice sees her own generation');
SELECT is((SELECT count(*) FROM df.instance_nodes('b0310001')), 0::bigint,
          'instance_nodes: no rows of bob''s instance');
SELECT is((SELECT count(*) FROM df.instance_nodes('b0310001', 5)), 0::bigint,
          'instance_nodes (legacy): no rows of bob''s instance');
SELECT is((SELECT count(*) FROM df.instance_nodes('a0310001')), 3::bigint,
          'instance_nodes: alice sees her own nodes');
SELECT is(df.explain('b0310001'), 'Instance ''b0310001'' not found',
          'explain: bob''s instance does not exist for alice');
SELECT matches(df.explain('a0310001'), '^Instance: a0310001 \(alice-job\)\nStatus:   ✓ Completed\n',
          'explain: alice can explain her own instance');
-- The helpers re-check ownership themselves: handing them bob's id reveals nothing.
SELECT is((SELECT count(*) FROM df._engine_info(ARRAY['b0310001', 'a0310001'], 'df_t031_alice', NULL)), 1::bigint,
          '_engine_info: returns only the caller''s instance of the ids it is given');
SELECT is((SELECT id FROM df._engine_info(ARRAY['b0310001', 'a0310001'], 'df_t031_alice', NULL)), 'a0310001',
          '_engine_info: and that one is alice''s');
SELECT is((SELECT count(*) FROM df._engine_executions('b0310001', 10, 'df_t031_alice', NULL)), 0::bigint,
          '_engine_executions: bob''s generations are not returned to alice');
SELECT is((SELECT count(*) FROM df._node_statuses('b0310001')), 0::bigint,
          '_node_statuses: bob''s nodes are not returned to alice');
SELECT throws_ok($$ SELECT * FROM df.metrics() $$, '42501', NULL,
          'metrics: not executable by an ordinary role');
SELECT throws_ok($$ SELECT * FROM df_engine.instances $$, '42501', NULL,
          'alice cannot read the engine tables directly');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------------------------
-- Bob sees only his instance, and no engine data of alice's
-- ---------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION df_t031_bob;
SELECT is(ARRAY(SELECT instance_id FROM df.list_instances()), ARRAY['b0310001'],
          'list_instances: bob sees only his instance');
SELECT is((SELECT count(*) FROM df.instance_info('a0310001')), 0::bigint,
          'instance_info: alice''s instance is invisible to bob');
SELECT is((SELECT count(*) FROM df.instance_executions('a0310001', 100)), 0::bigint,
          'instance_executions: nothing of alice''s instance');
SELECT is((SELECT count(*) FROM df.instance_nodes('a0310001')), 0::bigint,
          'instance_nodes: nothing of alice''s instance');
SELECT is(df.explain('a0310001'), 'Instance ''a0310001'' not found',
          'explain: alice''s instance does not exist for bob');
SELECT is((SELECT count(*) FROM df._engine_info(ARRAY['a0310001'], 'df_t031_bob', NULL)), 0::bigint,
          '_engine_info: nothing of alice''s instance for bob');
SELECT is((SELECT count(*) FROM df._engine_info(ARRAY['a0310001'], 'df_t031_alice', gen_random_uuid())), 0::bigint,
          '_engine_info: nor when bob claims to be alice with a guessed key');
SELECT is((SELECT event_count FROM df.instance_executions('b0310001')), 2::bigint,
          'instance_executions: bob sees his running generation, counted from its history');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------------------------
-- A login role that may act for alice (pool role + SET ROLE) sees alice's engine data;
-- switching to bob is impossible for it, and without SET ROLE it sees no df rows at all.
-- ---------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION df_t031_ops;
SELECT is((SELECT count(*) FROM df.list_instances()), 0::bigint,
          'ops without SET ROLE: RLS shows none of alice''s rows');
SET ROLE df_t031_alice;
SELECT results_eq($$ SELECT instance_id, function_name, execution_count FROM df.list_instances() $$,
                  $$ VALUES ('a0310001'::text, 'df.function_graph'::text, 1::bigint) $$,
                  'ops acting as alice sees alice''s instance with its engine columns');
SELECT is((SELECT count(*) FROM df._engine_info(ARRAY['b0310001'], 'df_t031_alice', NULL)), 0::bigint,
          'ops acting as alice still gets nothing of bob''s from _engine_info');
RESET ROLE;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------------------------
-- The privilege layout that makes this hold
-- ---------------------------------------------------------------------------------------------
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df._engine_info(text[], regrole, uuid)'::regprocedure), true,
          '_engine_info is SECURITY DEFINER (the only way to engine data)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df._engine_executions(text, integer, regrole, uuid)'::regprocedure), true,
          '_engine_executions is SECURITY DEFINER');
SELECT ok((SELECT proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc
            WHERE oid = 'df._engine_info(text[], regrole, uuid)'::regprocedure),
          '_engine_info pins its search_path');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'df'::regnamespace AND p.prosecdef
                   AND p.proname IN ('list_instances', 'instance_info', 'instance_executions',
                                     'instance_nodes', 'explain', '_node_statuses', '_explain_instance')),
          '{}'::text[], 'the functions that read df tables for the caller are SECURITY INVOKER');
SELECT is(has_function_privilege('df_t031_alice', 'df.metrics()', 'EXECUTE'), false,
          'PUBLIC cannot execute df.metrics()');
CREATE TEMP TABLE monitoring_helpers AS
SELECT unnest(ARRAY[
    'df._list_instances_max_limit()', 'df._check_list_limit(integer)', 'df._engine_info(text[],regrole,uuid)',
    'df._engine_executions(text,integer,regrole,uuid)', 'df._decode_list_cursor(text)', 'df._stamp_lineage(text)',
    'df._node_statuses(text)', 'df._explain_clip(text,integer,integer)',
    'df._explain_label(text,text,text,text,text)', 'df._explain_render(text,jsonb,boolean)',
    'df._explain_sequence(text,jsonb)', 'df._explain_graph(df._node)', 'df._explain_decode(text)',
    'df._explain_instance(text)', 'df._explain_classify(text)', 'df._explain_evaluate(text)',
    'df._engine_history(text,integer,integer,regrole,uuid)']) AS signature;
SELECT is(ARRAY(SELECT h.signature FROM monitoring_helpers h
                 WHERE EXISTS (SELECT 1 FROM pg_proc p,
                                      aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                WHERE p.oid = h.signature::regprocedure AND a.grantee = 0)),
          '{}'::text[], 'no monitoring helper is executable by PUBLIC');
SELECT is(ARRAY(SELECT h.signature FROM monitoring_helpers h
                 WHERE NOT has_function_privilege('df_t031_alice', h.signature, 'EXECUTE')),
          '{}'::text[], 'df.grant_usage() gives a role every helper the monitoring functions call');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'df'::regnamespace AND p.proname LIKE '\_%'
                   AND (p.proname LIKE '\_explain%' OR p.proname IN ('_engine_info', '_engine_executions', '_engine_history', '_node_statuses',
                        '_stamp_lineage', '_decode_list_cursor', '_check_list_limit', '_list_instances_max_limit'))
                EXCEPT SELECT h.signature::regprocedure::text FROM monitoring_helpers h),
          '{}'::text[], 'the helper list above is complete');

CREATE FUNCTION pg_temp.plan_text(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
    v text := '';
BEGIN
    FOR r IN EXECUTE 'EXPLAIN ' || q LOOP
        v := v || r || E'\n';
    END LOOP;
    RETURN v;
END
$$;

-- df.instance_history: the caller's own instances only, through the guarded helper.
SET ROLE df_t031_bob;
SELECT is(ARRAY(SELECT event_type FROM df.instance_history('b0310001')), ARRAY['ExecutionStarted', 'TaskScheduled'],
          'bob reads his instance''s history, oldest first');
SELECT is((SELECT count(*) FROM df.instance_history('a0310001')), 0::bigint, 'bob reads none of alice''s history');
SELECT is((SELECT count(*) FROM df._engine_history('b0310001', 10, 10, 'df_t031_alice'::regrole, NULL)), 0::bigint,
          'the helper gives nothing to a caller claiming another role without its key');
SELECT throws_ok($$ SELECT * FROM df.instance_history('b0310001', 1001) $$, '22023',
          'df.instance_history: limit_count must be between 1 and 1000, got 1001', 'history limit checked');
-- A role's newest-first page reads its own rows by the submitter index, not past everyone else's.
SET LOCAL enable_seqscan = off;
SELECT ok(pg_temp.plan_text('SELECT i.id FROM df.instances i ORDER BY i.created_at DESC, i.id LIMIT 51')
          LIKE '%idx_instances_submitter%', 'row-level security''s filter is served by idx_instances_submitter');
RESET enable_seqscan;
RESET ROLE;

CREATE ROLE df_t031_stranger LOGIN;
SET ROLE df_t031_stranger;
SELECT throws_ok($$ SELECT * FROM df.list_instances() $$, '42501', 'permission denied for schema df',
          'a role never granted usage cannot list at all');
RESET ROLE;
SET ROLE df_t031_alice;
SELECT is(df.explain($$ 'SELECT 1' ~> 'SELECT 2' $$), E'SQL: SELECT 1      \n→ SQL: SELECT 2    ',
          'an application role can explain a DSL expression');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
