-- Who may start what, and row-level isolation: a role sees, cancels and awaits only its own
-- instances, reads only its own variables, cannot write rows for another role, and cannot get
-- around any of it by calling the SECURITY DEFINER helpers directly.

-- An instance committed before the test, as if a transaction long gone had inserted it.
BEGIN;
INSERT INTO df.instances (id, root_node, submitted_by) VALUES ('00a01600', '00a01601', 'postgres');
INSERT INTO df.nodes (id, instance_id, node_type, query, submitted_by) VALUES ('00a01601', '00a01600', 'SQL', 'SELECT 1', 'postgres');
COMMIT;

BEGIN;
SELECT plan(69);

CREATE ROLE t016_alice LOGIN;
CREATE ROLE t016_bob LOGIN;
CREATE ROLE t016_ops LOGIN;
CREATE ROLE t016_nologin NOLOGIN;
CREATE ROLE t016_super SUPERUSER LOGIN;
CREATE ROLE t016_nologin_super SUPERUSER NOLOGIN;
CREATE ROLE t016_nobody LOGIN;
GRANT t016_alice TO t016_ops;
SET client_min_messages = warning;
DO $$ BEGIN
    PERFORM df.grant_usage(r)
       FROM unnest(ARRAY['t016_alice', 't016_bob', 't016_ops', 't016_nologin', 't016_nologin_super']) r;
END $$ LANGUAGE plpgsql;
RESET client_min_messages;

-- ---------------------------------------------------------------------------------------------
-- Submitters: LOGIN required; superusers only when enabled
-- ---------------------------------------------------------------------------------------------
SET pg_durable.enable_superuser_instances = '';
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501',
                 format('pg_durable: superuser instances are disabled. current_user "%s" is a superuser, but pg_durable.enable_superuser_instances is off. Set pg_durable.enable_superuser_instances = on to allow this.', current_user),
                 'a superuser cannot start instances by default');
SET ROLE t016_super;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501',
                 'pg_durable: superuser instances are disabled. current_user "t016_super" is a superuser, but pg_durable.enable_superuser_instances is off. Set pg_durable.enable_superuser_instances = on to allow this.',
                 'nor can a role with SUPERUSER reached through SET ROLE');
RESET ROLE;
SET pg_durable.enable_superuser_instances = off;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501', NULL, 'enable_superuser_instances = off refuses');
SET pg_durable.enable_superuser_instances = no;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501', NULL, 'enable_superuser_instances = no refuses');
SET pg_durable.enable_superuser_instances = on;
SELECT lives_ok($$SELECT df.start('SELECT 1')$$, 'enable_superuser_instances = on allows superuser instances');
SET pg_durable.enable_superuser_instances = 'TRUE';
SELECT lives_ok($$SELECT df.start('SELECT 1')$$, '... so does true');
SET pg_durable.enable_superuser_instances = '1';
SELECT lives_ok($$SELECT df.start('SELECT 1')$$, '... and 1');
SET pg_durable.enable_superuser_instances = 'yes';
SELECT lives_ok($$SELECT df.start('SELECT 1')$$, '... and yes');
RESET pg_durable.enable_superuser_instances;

SET ROLE t016_nologin;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501',
                 'current_user "t016_nologin" does not have LOGIN privilege. The background worker must connect as this role to execute SQL. Grant LOGIN to this role or call df.start() as a role with LOGIN.',
                 'a NOLOGIN role cannot start instances');
RESET ROLE;
SET ROLE t016_nologin_super;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501',
                 'current_user "t016_nologin_super" does not have LOGIN privilege. The background worker must connect as this role to execute SQL. Grant LOGIN to this role or call df.start() as a role with LOGIN.',
                 'LOGIN is checked before SUPERUSER');
RESET ROLE;
SET ROLE t016_nobody;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501', NULL, 'a role without df usage cannot start instances');
SELECT throws_ok($$SELECT 'a' ~> 'b'$$, '42501', NULL, '... nor build graphs');
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- Two roles, one instance each
-- ---------------------------------------------------------------------------------------------
SET ROLE t016_alice;
SELECT df.setvar('secret', 'alice''s') AS ok \gset
SELECT df.start('SELECT 1' ~> 'SELECT 2', 'alice-job') AS a \gset
SELECT df.start('SELECT 3', 'alice-job-2') AS a2 \gset
RESET ROLE;
SET ROLE t016_bob;
SELECT df.setvar('secret', 'bob''s') AS ok \gset
SELECT df.setvar('bobvar', 'b') AS ok \gset
SELECT df.start('SELECT 1', 'bob-job') AS b \gset
RESET ROLE;

SET ROLE t016_alice;
SELECT is((SELECT array_agg(label ORDER BY label) FROM df.instances), ARRAY['alice-job', 'alice-job-2'],
          'alice sees only her instances');
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = :'b'), 0, 'alice sees none of bob''s nodes');
SELECT is((SELECT count(*)::integer FROM df.nodes), 4, 'alice sees her own nodes');
SELECT is(df.status(:'b'), NULL, 'df.status of bob''s instance is NULL for alice');
SELECT is(df.status(:'a'), 'pending', 'df.status of her own');
SELECT is(df.result(:'b'), NULL, 'df.result of bob''s instance is NULL for alice');
SELECT throws_ok(format('SELECT df.cancel(%L)', :'b'), '42704', format('Instance not found or access denied: %s', :'b'),
                 'alice cannot cancel bob''s instance');
SELECT throws_ok(format('SELECT df.await_instance(%L, 1)', :'b'), '42704', format('Instance not found: %s', :'b'),
                 'alice cannot await bob''s instance');
SELECT is(df.getvar('secret'), 'alice''s', 'alice reads her own variable');
SELECT is(df.getvar('bobvar'), NULL, 'bob''s variables are invisible to alice');
SELECT is((SELECT array_agg(name) FROM df.vars), ARRAY['secret'], 'df.vars shows alice only her variables');
SELECT is(df.clearvars(), 'OK', 'alice clears her variables');

-- Writing rows directly: not even her own (df's functions write them for her), so not for bob
SELECT throws_ok($$INSERT INTO df.instances (id, root_node) VALUES ('00a01610', '00a01611')$$,
                 '42501', 'permission denied for table instances', 'alice cannot insert an instance');
SELECT throws_ok(format($$INSERT INTO df.instances (id, root_node, submitted_by) VALUES ('00a01610', '00a01611', %L)$$, 't016_bob'),
                 '42501', 'permission denied for table instances', '... neither one submitted by bob');
SELECT throws_ok(format($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('00a01612', %L, 'SQL', 'SELECT ''graft''')$$, :'b'),
                 '42501', 'permission denied for table nodes', 'alice cannot insert a node, not even into bob''s instance');
SELECT throws_ok($$INSERT INTO df.vars (name, value) VALUES ('x', 'y')$$,
                 '42501', 'permission denied for table vars', 'alice cannot write df.vars directly');
SELECT throws_ok($$UPDATE df.vars SET value = 'z'$$, '42501', 'permission denied for table vars', '... nor update it');
SELECT throws_ok($$DELETE FROM df.vars$$, '42501', 'permission denied for table vars', '... nor delete from it');
SELECT throws_ok(format($$UPDATE df.instances SET status = 'completed' WHERE id = %L$$, :'a'), '42501', NULL,
                 'alice cannot update even her own instance''s status');
SELECT throws_ok($$UPDATE df.nodes SET status = 'completed'$$, '42501', NULL, 'alice cannot update nodes');
SELECT throws_ok($$DELETE FROM df.instances$$, '42501', NULL, 'alice cannot delete instances');
SELECT throws_ok($$SELECT count(*) FROM df_engine.instances$$, '42501', NULL, 'alice cannot read the engine tables');
SELECT throws_ok(format('SELECT df_engine.cancel(%L)', :'b'), '42501', NULL, 'alice cannot call the engine functions');
SELECT throws_ok($$SELECT * FROM df.workers$$, '42501', NULL, 'df.workers is for administrators');
RESET ROLE;
SELECT is((SELECT status FROM df.instances WHERE id = :'b'), 'pending', 'bob''s instance is untouched');
SELECT is((SELECT value FROM df.vars WHERE name = 'secret' AND owner = 't016_bob'::regrole), 'bob''s',
          'bob''s variable is untouched');

-- ---------------------------------------------------------------------------------------------
-- The SECURITY DEFINER helpers, called directly by a logged-in role
-- ---------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION t016_alice;
SELECT throws_ok(format('SELECT df._cancel(%L, %L, %L, NULL)', :'b', 'x', 't016_alice'), '42704', format('Instance not found or access denied: %s', :'b'),
                 'df._cancel refuses another role''s instance');
SELECT throws_ok(format('SELECT df._cancel(%L, %L, %L, gen_random_uuid())', :'b', 'x', 't016_bob'), '42704', format('Instance not found or access denied: %s', :'b'),
                 '... also when she claims to act as bob, with a guessed key');
SELECT throws_ok(format('SELECT df._launch(%L, %L)', :'a', '{}'), '42501', 'permission denied for function _launch',
                 'df._launch is not for application roles (df._start_instance calls it)');
SELECT is(df._cancel(:'a', 'mine', 't016_alice', NULL), format('Instance %s cancelled: mine', :'a'), 'df._cancel works on her own instance');
SELECT throws_ok($$SELECT df._start_instance('t016_bob', NULL, NULL, NULL, '{00a01620}', '{SQL}', '{"SELECT 1"}', '{NULL}', '{NULL}', '{NULL}')$$,
                 '42501', 'df.start(): the caller (session user "t016_alice") has not shown that it acts as role t016_bob; call df.start() as that role',
                 'df._start_instance refuses to act for another role');
SELECT throws_ok($$SELECT df._start_graph('t016_bob', NULL, 'SELECT 1', NULL, NULL)$$,
                 '42501', 'df.start(): the caller (session user "t016_alice") has not shown that it acts as role t016_bob; call df.start() as that role',
                 'df._start_graph refuses to act for another role');
SELECT throws_ok($$SELECT df._start_graph('t016_bob', gen_random_uuid(), 'SELECT 1', NULL, NULL)$$,
                 '42501', NULL, '... also with a guessed key');
SELECT throws_ok($$SELECT df._start_graph('t016_alice', NULL, '{"node_type": "SLEEP", "query": "soon"}', 'bad-graph', NULL)$$,
                 '22023',
                 'Invalid durable function graph: root: SLEEP query must be a non-negative whole number of seconds, got ''soon''',
                 'df._start_graph checks the graph it is given, as df.start does');
SELECT is((SELECT count(*)::integer FROM df.instances WHERE label = 'bad-graph'), 0, '... and writes nothing for it');
SELECT ok(has_function_privilege('t016_alice', 'df._fut_graph(text,text,oid)', 'EXECUTE')
          AND NOT has_function_privilege('t016_nobody', 'df._fut_graph(text,text,oid)', 'EXECUTE'),
          'df._fut_graph (which df.start calls for transaction_mode ''new'') comes with df.grant_usage');
SELECT ok(has_function_privilege('t016_alice', 'df._built(text)', 'EXECUTE')
          AND NOT has_function_privilege('t016_nobody', 'df._built(text)', 'EXECUTE'),
          'df._built (which the combinators call) comes with df.grant_usage');
SELECT throws_ok($$SELECT df._setvar('t016_bob', NULL, 'secret', 'forged')$$, '42501',
                 'the caller (session user "t016_alice") may not manage the variables of role t016_bob', 'df._setvar refuses another role');
SELECT throws_ok($$SELECT df._unsetvar('t016_bob', NULL, 'secret')$$, '42501', NULL, 'df._unsetvar refuses another role');
SELECT throws_ok($$SELECT df._clearvars('t016_bob', NULL)$$, '42501', NULL, 'df._clearvars refuses another role');
SELECT is(df._getvar('t016_bob', NULL, 'secret'), NULL, 'df._getvar reads nothing of another role''s');

-- A graph given to df._start_instance by hand goes through the same checks as df.start's.
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, NULL,
                       '{00a01621,00a01622,00a01623,00a01624}', '{THEN,THEN,SQL,SQL}',
                       '{NULL,NULL,"SELECT 1","SELECT 2"}', '{NULL,NULL,NULL,NULL}',
                       '{00a01622,00a01623,NULL,NULL}', '{00a01623,00a01624,NULL,NULL}')$$, '22023',
                 'Invalid durable function graph: node 00a01623 has more than one parent; a graph must be a tree',
                 'a node shared by two parents');
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, NULL,
                       '{00a01631,00a01632,00a01633,00a01635,00a01636,00a01637}', '{THEN,THEN,THEN,SQL,SQL,SQL}',
                       '{NULL,NULL,NULL,"SELECT 1","SELECT 2","SELECT 3"}', '{NULL,NULL,NULL,NULL,NULL,NULL}',
                       '{00a01632,00a01633,00a01632,NULL,NULL,NULL}', '{00a01635,00a01636,00a01637,NULL,NULL,NULL}')$$, '22023',
                 'Invalid durable function graph: node 00a01632 has more than one parent; a graph must be a tree',
                 'a cycle');
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, NULL,
                       '{00a01641,00a01642,00a01643,00a01644,00a01645}', '{SQL,THEN,THEN,SQL,SQL}',
                       '{"SELECT 1",NULL,NULL,"SELECT 2","SELECT 3"}', '{NULL,NULL,NULL,NULL,NULL}',
                       '{NULL,00a01643,00a01642,NULL,NULL}', '{NULL,00a01644,00a01645,NULL,NULL}')$$, '22023',
                 'Invalid durable function graph: 4 of 5 nodes are not reachable from root node 00a01641',
                 'a cycle away from the root');
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, NULL, '{00a01651}', '{SLEEP}', '{soon}', '{NULL}', '{NULL}', '{NULL}')$$,
                 '22023',
                 'Invalid durable function graph: node 00a01651: SLEEP query must be a non-negative whole number of seconds, got ''soon''',
                 'a node that could not run');
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, NULL, '{00a01661,00a01662}', '{LOOP,SQL}',
                       '{"{\"condition_node\":\"00a01669\"}","SELECT 1"}', '{NULL,NULL}', '{00a01662,NULL}', '{NULL,NULL}')$$,
                 '22023',
                 'Invalid durable function graph: node 00a01661: condition_node refers to a node that does not exist: 00a01669',
                 'a reference to a node that does not exist');
SELECT throws_ok($$SELECT df._start_instance('t016_alice', NULL, NULL, 'no_such_database', '{00a01665}', '{SQL}', '{"SELECT 1"}', '{NULL}', '{NULL}', '{NULL}')$$,
                 '3D000', 'database "no_such_database" does not exist', 'a database that does not exist');
SELECT df.setvar('v', '1') AS ok \gset
SELECT df._start_instance('t016_alice', NULL, 'by hand', NULL, '{00a01671,00a01672,00a01673}', '{THEN,SQL,SLEEP}',
                          '{NULL,"SELECT {v}",5}', '{NULL,NULL,NULL}', '{00a01672,NULL,NULL}', '{00a01673,NULL,NULL}') AS hand \gset
RESET SESSION AUTHORIZATION;
SELECT is((SELECT input::jsonb -> 'vars' FROM df_engine.instances WHERE id = :'hand'), '{"v": "1"}'::jsonb,
          'a sound graph given by hand launches like df.start''s, with the role''s variables');
SELECT is((SELECT submitted_by::text || ' ' || label FROM df.instances WHERE id = :'hand'), 't016_alice by hand',
          '... as alice, with its label');
SELECT throws_ok(format('SELECT df._launch(%L, %L)', :'a', '{}'), '55000',
                 format('instance %s is cancelled, not pending; only a new instance can be launched', :'a'),
                 'df._launch refuses an instance that is not new');
SELECT throws_ok($$SELECT df._launch('00a01600', '{}')$$, '55000',
                 'instance 00a01600 was not created in the current transaction; use df.start()',
                 'df._launch refuses an instance committed earlier');

-- A login role that may act for alice (a member of her role) may use the helpers for her;
-- through the public functions it acts as itself.
SET SESSION AUTHORIZATION t016_ops;
SELECT throws_ok(format('SELECT df.cancel(%L)', :'a2'), '42704', format('Instance not found or access denied: %s', :'a2'),
                 'as itself, ops cannot see alice''s instance');
SELECT is(df._cancel(:'a2', 'by ops', 't016_alice', NULL), format('Instance %s cancelled: by ops', :'a2'),
          'df._cancel lets a member of the submitter''s role act for it');
SELECT is(df._getvar('t016_alice', NULL, 'v'), '1', 'df._getvar lets a member of the role read its variables');
SELECT lives_ok($$SELECT df._setvar('t016_alice', NULL, 'set_by', 'ops')$$, '... and df._setvar set them');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT status FROM df.instances WHERE id = :'a2'), 'cancelled', 'alice''s second instance is cancelled');
SELECT is(session_user::text, 'postgres', 'the session is back to the superuser');

SELECT * FROM finish();
ROLLBACK;
