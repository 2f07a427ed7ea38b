-- What an application role cannot lock or write, the owner-only named locks, and the fixed input
-- limits: each refused with an error naming the value and the limit, before anything is written.
BEGIN;
SELECT plan(70);

CREATE ROLE t040_alice LOGIN;
CREATE ROLE t040_bob LOGIN;
CREATE ROLE t040_nobody LOGIN;
SET client_min_messages = warning;
SELECT df.grant_usage('t040_alice') AS ok \gset
SELECT df.grant_usage('t040_bob') AS ok \gset
RESET client_min_messages;

SET ROLE t040_bob;
SELECT df.start(df.wait_for_signal('go'), 'bob') AS bob_id \gset
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- Locks an application role cannot take
-- ---------------------------------------------------------------------------------------------
SET ROLE t040_alice;
SELECT throws_ok($$LOCK TABLE df.vars IN ACCESS EXCLUSIVE MODE$$, '42501', 'permission denied for table vars',
                 'a df user cannot lock df.vars ACCESS EXCLUSIVE (which blocked every df.start)');
SELECT throws_ok($$LOCK TABLE df.vars IN ROW EXCLUSIVE MODE$$, '42501', NULL, '... nor ROW EXCLUSIVE');
SELECT throws_ok($$LOCK TABLE df.vars IN SHARE MODE$$, '42501', NULL, '... nor SHARE');
SELECT throws_ok($$LOCK TABLE df.instances IN EXCLUSIVE MODE$$, '42501', NULL, 'nor lock df.instances EXCLUSIVE');
SELECT throws_ok($$LOCK TABLE df.nodes IN SHARE ROW EXCLUSIVE MODE$$, '42501', NULL, 'nor lock df.nodes');
SELECT lives_ok($$LOCK TABLE df.vars IN ACCESS SHARE MODE$$,
                'ACCESS SHARE, which SELECT allows, is possible (it conflicts only with ACCESS EXCLUSIVE)');
SELECT throws_ok($$SELECT 1 FROM df.instances FOR UPDATE$$, '42501', NULL, 'no row locks on instances: FOR UPDATE');
SELECT throws_ok($$SELECT 1 FROM df.instances FOR KEY SHARE$$, '42501', NULL, '... nor FOR KEY SHARE');
SELECT throws_ok($$SELECT 1 FROM df.vars FOR UPDATE$$, '42501', NULL, 'no row locks on vars');
SELECT throws_ok($$SELECT 1 FROM df.signal_buffer$$, '42501', NULL, 'no access to the signal buffer');
SELECT throws_ok($$SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED$$, '42501',
                 'permission denied for table locks', 'the in-database worker''s lock cannot be taken');
SELECT throws_ok($$LOCK TABLE df_engine.locks IN ACCESS SHARE MODE$$, '42501', NULL, '... nor its table locked');
RESET ROLE;
SET ROLE t040_nobody;
SELECT throws_ok($$SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED$$, '42501', NULL,
                 'a role without df usage cannot take the in-database worker''s lock');
SELECT throws_ok($$LOCK TABLE df_engine.reconcile_lock IN ACCESS EXCLUSIVE MODE NOWAIT$$, '42501', NULL,
                 '... nor the reconciliation lock');
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- The named locks
-- ---------------------------------------------------------------------------------------------
SELECT is((SELECT array_agg(name ORDER BY name) FROM df_engine.locks WHERE name NOT LIKE 'new\_transaction\_start:%'),
          ARRAY['run_worker'], 'df_engine.locks has a row for each exclusive job');
SELECT is((SELECT array_agg(name ORDER BY name) FROM df_engine.locks WHERE name LIKE 'new\_transaction\_start:%'),
          (SELECT array_agg('new_transaction_start:' || g ORDER BY 'new_transaction_start:' || g) FROM generate_series(1, 100) g),
          '... and one for each of the at most 100 concurrent transaction_mode ''new'' starts');
SELECT is((SELECT relacl FROM pg_class WHERE oid = 'df_engine.locks'::regclass),
          (SELECT ARRAY[format('%s=arwdDxt/%s', quote_ident(r.rolname), quote_ident(r.rolname))]::aclitem[]
             FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = 'df_engine.locks'::regclass),
          'nobody but its owner has any privilege on it');
SELECT is((SELECT count(*)::integer FROM (SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED) l),
          1, 'the owner takes a lock by locking its row');

-- ---------------------------------------------------------------------------------------------
-- Writing rows, and probing other roles' ids
-- ---------------------------------------------------------------------------------------------
SET ROLE t040_alice;
SELECT throws_ok(format($$INSERT INTO df.instances (id, root_node) VALUES (%L, '0000a040')$$, :'bob_id'),
                 '42501', 'permission denied for table instances',
                 'inserting another role''s instance id is refused like any insert: nothing to learn from it');
SELECT throws_ok($$INSERT INTO df.instances (id, root_node) VALUES ('0000a041', '0000a042')$$,
                 '42501', 'permission denied for table instances', '... the same error for a free id');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0000a042', '0000a041', 'SQL', 'x')$$,
                 '42501', 'permission denied for table nodes', 'no hand-made node rows');
SELECT is(df.status(:'bob_id'), NULL, 'df.status of another role''s id is NULL, as for an unknown one');
SELECT matches(df.start('SELECT 1'), '^[0-9a-f]{8}$', 'df.start still works: it picks the id itself');
SELECT is(df.setvar('k', 'v'), 'OK', 'and so do the variable functions');
SELECT is((SELECT value FROM df.vars WHERE name = 'k'), 'v', '... whose rows the role may read');
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- Labels and signal names
-- ---------------------------------------------------------------------------------------------
SET ROLE t040_alice;
SELECT lives_ok(format('SELECT df.start(%L, %L)', 'SELECT 1', repeat('é', 500)), 'a label of 500 characters');
SELECT throws_ok(format('SELECT df.start(%L, %L)', 'SELECT 1', repeat('l', 501)), '54000',
                 'df.start(): label is 501 characters long; the limit is 500 characters', 'a label of 501 characters');
SELECT throws_ok(format('SELECT df.start(%L, %L)', 'SELECT 1', repeat('l', 1000000)), '54000',
                 'df.start(): label is 1000000 characters long; the limit is 500 characters',
                 'a label of 1 MB gets the same error, not an index row size error');
SELECT lives_ok(format('SELECT df.wait_for_signal(%L)', repeat('s', 500)), 'a signal name of 500 characters');
SELECT throws_ok(format('SELECT df.wait_for_signal(%L)', repeat('s', 501)), '54000',
                 'df.wait_for_signal(): signal name is 501 characters long; the limit is 500 characters',
                 'a wait for a signal name of 501 characters');
SELECT throws_ok(format($$SELECT df.start('{"node_type":"SIGNAL","query":"{\"signal_name\":\"%s\"}"}')$$, repeat('s', 501)), '22023',
                 'Invalid durable function graph: root: signal name is 501 characters long; the limit is 500 characters',
                 'the same in a graph written by hand');

SELECT df.start(df.wait_for_signal('go')) AS id \gset
SELECT throws_ok(format('SELECT df.signal(%L, %L)', :'id', repeat('s', 501)), '54000',
                 'df.signal(): signal name is 501 characters long; the limit is 500 characters', 'a signal name of 501 characters');

-- ---------------------------------------------------------------------------------------------
-- Signal data
-- ---------------------------------------------------------------------------------------------
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '"' || repeat('x', 1048574) || '"'),
                'signal data of exactly 1 MiB as JSON');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '"' || repeat('x', 1048575) || '"'), '54000',
                 'df.signal(): signal data is 1048577 bytes as JSON; the limit is 1048576 bytes (1 MiB)',
                 'one byte more');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('x', 1048577)), '54000',
                 'df.signal(): signal data is 1048579 bytes as JSON; the limit is 1048576 bytes (1 MiB)',
                 'text that is not JSON is measured as the JSON string it becomes');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('x', 20000000)), '54000',
                 'df.signal(): signal data is 20000000 bytes; the limit is 1048576 bytes (1 MiB) as JSON',
                 'very large data is refused before it is parsed');
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('[', 100) || repeat(']', 100)),
                'data nested 100 levels deep');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('[', 101) || repeat(']', 101)), '54000',
                 'df.signal(): signal data is nested more than 100 levels deep; the limit is 100 levels',
                 'data nested 101 levels deep');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('{"a":', 101) || '1' || repeat('}', 101)), '54000',
                 'df.signal(): signal data is nested more than 100 levels deep; the limit is 100 levels',
                 '... objects count too');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', repeat('[', 500000) || repeat(']', 500000)), '54000',
                 'df.signal(): signal data is nested more than 100 levels deep; the limit is 100 levels',
                 'data nested too deep for the server''s parser gets the same error');
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '[' || repeat('[1, "[[[[[[[[[["], ', 200) || '1]'),
                'brackets inside strings do not count');
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '[' || repeat('9', 500) || ']'),
                'a number of 500 digits');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '[' || repeat('9', 501) || ']'), '54000',
                 'df.signal(): signal data holds a number of 501 characters; the limit is 500 characters',
                 'a number of 501 digits');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '{"n": 1e600}'), '54000',
                 'df.signal(): signal data holds a number of 601 characters; the limit is 500 characters',
                 'a short number that the worker would read as 601 digits');
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '["' || repeat('9', 5000) || '"]'),
                'digits in a string are not a number');
SELECT lives_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '{"' || repeat('k', 10000) || '": 1}'),
                'an object key of 10,000 characters');
SELECT throws_ok(format('SELECT df.signal(%L, %L, %L)', :'id', 'go', '{"a": [{"' || repeat('k', 10001) || '": 1}]}'), '54000',
                 'df.signal(): signal data holds an object key of 10001 characters; the limit is 10000 characters',
                 'an object key of 10,001 characters');
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM df.signal_buffer WHERE instance_id = :'id'), 6,
          'only the accepted signals were buffered');
SELECT ok((SELECT bool_and(needs_routing) FROM df.signal_buffer WHERE instance_id = :'id'),
          'each waits for the worker to route it');
SELECT is(df._signal_data_problem('{"a": [1, 2, {"b": "c"}]}'), NULL, 'ordinary data has no problem');

-- ---------------------------------------------------------------------------------------------
-- Timers
-- ---------------------------------------------------------------------------------------------
SET ROLE t040_alice;
SELECT is(df.sleep(999999999), '{"node_type":"SLEEP","query":"999999999"}', 'a sleep of 999999999 seconds');
SELECT throws_ok($$SELECT df.sleep(1000000000)$$, '22023',
                 'df.sleep(): seconds must be at most 999999999 (about 31 years), got 1000000000', 'one second more');
SELECT throws_ok($$SELECT df.sleep(9223372036854775807)$$, '22023',
                 'df.sleep(): seconds must be at most 999999999 (about 31 years), got 9223372036854775807',
                 'the largest bigint');
SELECT throws_ok($$SELECT df.start('{"node_type":"SLEEP","query":"100000000000000000"}')$$, '22023',
                 'Invalid durable function graph: root: SLEEP seconds must be at most 999999999 (about 31 years), got 100000000000000000',
                 'a SLEEP node written by hand');
SELECT lives_ok($$SELECT df.wait_for_signal('go', 999999999)$$, 'a signal timeout of 999999999 seconds');
SELECT throws_ok($$SELECT df.wait_for_signal('go', 1000000000)$$, '22023',
                 'df.wait_for_signal(): timeout_seconds must be at most 999999999 (about 31 years), got 1000000000',
                 'one second more');
SELECT throws_ok($$SELECT df.start('{"node_type":"SIGNAL","query":"{\"signal_name\":\"go\",\"timeout_seconds\":2147483647}"}')$$, '22023',
                 'Invalid durable function graph: root: SIGNAL timeout_seconds must be at most 999999999 (about 31 years), got 2147483647',
                 'a SIGNAL node written by hand');
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- PUBLIC is not a role to grant df usage to
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.grant_usage('public')$$, '22023',
                 'df.grant_usage(): p_role must name a role, got ''public'' (PUBLIC, every role); grant df usage to a group role instead',
                 'df.grant_usage(''public'') is refused: it would give every role df usage');
SELECT throws_ok($$SELECT df.revoke_usage('public')$$, '22023', NULL,
                 'df.revoke_usage(''public'') is refused too');

-- ---------------------------------------------------------------------------------------------
-- Workflow variables and the text of steps
-- ---------------------------------------------------------------------------------------------
SET ROLE t040_alice;
SELECT lives_ok(format('SELECT df.setvar(%L, %L)', repeat('n', 500), 'v'), 'a variable name of 500 characters');
SELECT throws_ok(format('SELECT df.setvar(%L, %L)', repeat('n', 501), 'v'), '54000',
                 'df.setvar(): variable name is 501 characters long; the limit is 500 characters',
                 'a variable name of 501 characters');
SELECT throws_ok(format('SELECT df.setvar(%L, %L)', 'big', repeat('v', 1048577)), '54000',
                 'df.setvar(): the value of variable "big" is 1048577 bytes; the limit is 1048576 bytes (1 MiB)',
                 'a value over 1 MiB');
SELECT is(df.getvar('big'), NULL, '... is not stored');
SELECT lives_ok(format('SELECT df.setvar(%L, %L)', 'half', repeat('v', 600000)), 'a value of 600,000 bytes');
SELECT throws_ok(format('SELECT df.setvar(%L, %L)', 'other_half', repeat('v', 600000)), '54000',
                 format('df.setvar(): with variable "other_half" the variables of role t040_alice would take %s bytes; the limit for all of a role''s variables together is 1048576 bytes (1 MiB)',
                        (SELECT sum(octet_length(name) + octet_length(value)) FROM df.vars WHERE owner = 't040_alice'::regrole)
                        + length('other_half') + 600000),
                 'a second one that would take the role''s variables over 1 MiB together');
SELECT is(df.getvar('other_half'), NULL, '... is not stored');
SELECT is(length(df.getvar('half')), 600000, '... and the first is kept');
SELECT lives_ok($$SELECT df.clearvars()$$, 'clearing the variables');
SELECT throws_ok(format('SELECT df.start(%L)', 'SELECT 1 -- ' || repeat('x', 1048576)), '54000',
                 'df.start(): a step''s text is 1048588 bytes; the limit is 1048576 bytes (1 MiB)',
                 'a step whose text is over 1 MiB');
SELECT throws_ok(format('SELECT df.start(%s)',
                        (SELECT string_agg(format('%L', 'SELECT ' || i || ' -- ' || repeat('x', 1048000)), ' ~> ')
                           FROM generate_series(1, 17) i)), '54000',
                 'df.start(): the steps'' texts together are 17816212 bytes; the limit is 16777216 bytes (16 MiB)',
                 'seventeen steps of about 1 MiB each, over 16 MiB together');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
