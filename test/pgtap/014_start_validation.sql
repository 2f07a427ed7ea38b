-- df.start rejects bad input with a specific error (the path of the bad node for graph errors)
-- and writes nothing.
BEGIN;
SELECT plan(59);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't014_user') THEN CREATE ROLE t014_user LOGIN; END IF;
END $$;
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage('t014_user'); END $$;
RESET client_min_messages;
SET ROLE t014_user;

-- A graph built from a JSON template: the wrapper's children are given verbatim.
CREATE FUNCTION pg_temp.then_of(l text, r text) RETURNS text LANGUAGE sql AS
$$ SELECT '{"node_type":"THEN","left_node":' || l || ',"right_node":' || r || '}' $$;

-- ---------------------------------------------------------------------------------------------
-- Arguments
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.start('SELECT 1', transaction_mode => 'bogus')$$, '22023',
                 'invalid transaction_mode "bogus" for df.start(): expected ''caller'' or ''new''', 'unknown transaction_mode');
SELECT throws_ok($$SELECT df.start('SELECT 1', transaction_mode => NULL)$$, '22023',
                 'invalid transaction_mode "NULL" for df.start(): expected ''caller'' or ''new''', 'NULL transaction_mode');
-- This database has no dblink: 'new' says what to create, and writes nothing.
SELECT throws_ok($$SELECT df.start('SELECT 1', transaction_mode => 'New')$$, '55000',
                 format('df.start(): transaction_mode ''new'' needs the dblink extension, which is not created in database "%s"',
                        current_database()),
                 'transaction_mode new without dblink names what to create');
SELECT throws_ok($$SELECT df.start(NULL, transaction_mode => 'new')$$, '22004', 'df.start(): fut must not be NULL',
                 'transaction_mode new checks its input in the caller''s session first');
SET df.in_workflow = true;
SELECT throws_ok($$SELECT df.start('SELECT 1', transaction_mode => 'new')$$, '0A000',
                 'df.start(): transaction_mode ''new'' cannot be used inside a workflow: a step''s df.start() already commits with the step; leave transaction_mode at ''caller''',
                 'transaction_mode new is refused on a step connection');
RESET df.in_workflow;
SELECT lives_ok($$SELECT df.start('SELECT 1', transaction_mode => 'CALLER')$$, 'transaction_mode is case-insensitive');
SELECT throws_ok($$SELECT df.start(NULL)$$, '22004', 'df.start(): fut must not be NULL', 'NULL graph');
SELECT throws_ok($$SELECT df.start('{"node_type":"FOO"}', transaction_mode => 'x')$$, '22023',
                 'invalid transaction_mode "x" for df.start(): expected ''caller'' or ''new''',
                 'transaction_mode is checked first');
SELECT throws_ok($$SELECT df.start('SELECT 1', database => 't014_no_such_database')$$, '3D000',
                 'database "t014_no_such_database" does not exist', 'unknown target database');
SELECT throws_ok($$SELECT df.start('{"node_type":"FOO"}', database => 't014_no_such_database')$$, '22023',
                 'Invalid durable function: Unknown node_type ''FOO''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'the graph is checked before the database');

-- ---------------------------------------------------------------------------------------------
-- The top-level value
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.start('{"node_type":"FOO","query":"x"}')$$, '22023',
                 'Invalid durable function: Unknown node_type ''FOO''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'an unknown top-level node_type is rejected (builders would wrap it)');
SELECT throws_ok($$SELECT df.start('{"node_type":"FOO","left_node":5}')$$, '22023',
                 'Invalid durable function: Unknown node_type ''FOO''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'an unknown node_type is reported before malformed fields');
SELECT throws_ok($$SELECT df.start('{"node_type":"THEN","left_node":5}')$$, '22023',
                 'Invalid durable function: Malformed Durofut JSON with node_type ''THEN'': Durofut children must be JSON objects',
                 'a malformed top-level node');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL","query":["x"]}')$$, '22023',
                 'Invalid durable function: Malformed Durofut JSON with node_type ''SQL'': invalid type: sequence, expected a string',
                 'a top-level query that is not a string');
SELECT throws_ok($$SELECT df.start(df.setvar('t014_v', '1'))$$, '22023',
                 'Invalid durable function: df.setvar cannot be used as a workflow step. Call df.setvar before df.start().',
                 'the result of df.setvar is not a graph');

-- ---------------------------------------------------------------------------------------------
-- Nodes inside the graph, with their paths
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok(format('SELECT df.start(%L)', pg_temp.then_of('{"node_type":"SQL","query":"a"}', '{"node_type":"NOPE"}')),
                 '22023', 'Invalid durable function graph: root.right: Unknown node_type ''NOPE''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'an unknown node_type below the root');
SELECT throws_ok(format('SELECT df.start(%L)', pg_temp.then_of('{"node_type":"SQL","query":"a"}', '{"query":"x"}')),
                 '22023', 'Invalid durable function graph: root.right: failed to deserialize Durofut child: missing field `node_type`',
                 'a child without node_type');
SELECT throws_ok(format('SELECT df.start(%L)', pg_temp.then_of(
                     pg_temp.then_of('{"node_type":"SQL","query":"a"}', '{"node_type":"SQL","query":7}'), '{"node_type":"SQL","query":"b"}')),
                 '22023', 'Invalid durable function graph: root.left.right: failed to deserialize Durofut child: invalid type: integer `7`, expected a string',
                 'a malformed grandchild, with its path');
SELECT throws_ok(format('SELECT df.start(%L)', pg_temp.then_of(
                     '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"a"},"right_node":3}', '{"node_type":"SQL","query":"b"}')),
                 '22023', 'Invalid durable function graph: root.left: failed to deserialize Durofut child: Durofut children must be JSON objects',
                 'a child whose own child is not an object');
SELECT throws_ok($$SELECT df.start('{"node_type":"THEN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"condition_node":{"node_type":"SQL","query":"c"}}')$$,
                 '22023', 'Invalid durable function graph: root: condition_node is not valid for THEN nodes',
                 'a condition on a THEN node');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL","query":"a","extra_nodes":[{"node_type":"SQL","query":"b"}]}')$$,
                 '22023', 'Invalid durable function graph: root: extra_nodes is not valid for SQL nodes',
                 'extra branches on a SQL node');
SELECT throws_ok($$SELECT df.start('{"node_type":"IF","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"query":"{\"condition_node\":\"0000abcd\"}"}')$$,
                 '22023', 'Invalid durable function graph: root: condition_node in IF must be a first-class Durofut field, not embedded in query',
                 'a condition id embedded in an IF query');
SELECT throws_ok($$SELECT df.start('{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"query":"{\"extra_nodes\":[]}"}')$$,
                 '22023', 'Invalid durable function graph: root: extra_nodes in JOIN must be a first-class Durofut field, not embedded in query',
                 'extra ids embedded in a JOIN query');
SELECT throws_ok($$SELECT df.start('{"node_type":"IF","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"condition_node":{"node_type":"SQL","query":"c"},"query":"not json"}')$$,
                 '22023', 'Invalid durable function graph: root: query in IF must be valid JSON config: invalid input syntax for type json',
                 'an IF with a condition and a query that is not JSON');
SELECT throws_ok($$SELECT df.start('{"node_type":"LOOP","left_node":{"node_type":"SQL","query":"a"},"condition_node":{"node_type":"SQL","query":"c"},"query":"[1]"}')$$,
                 '22023', 'Invalid durable function graph: root: query in LOOP must be a JSON config object',
                 'a LOOP with a condition and a query that is not an object');
SELECT throws_ok($$SELECT df.start('{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"extra_nodes":[{"node_type":"SQL","query":"c"},{"node_type":"BAD"}]}')$$,
                 '22023', 'Invalid durable function graph: root.extra_nodes[1]: Unknown node_type ''BAD''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'the path of an extra branch');
SELECT throws_ok(format('SELECT df.start(%L)', df.if('{"node_type":"SQL","query":"c","result_name":"no good"}', 'a', 'b')),
                 '22023', 'Invalid durable function graph: root.condition_node: result name ''no good'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'the path of a condition');

-- A combinator takes an operand equal to the last combinator's result as it is (df._built);
-- the setting that holds it can be set by hand, and what it lets through is checked here.
SELECT throws_ok($$SELECT df.start(set_config('df.built_node', '{"node_type":"NOT_A_TYPE"}', true) ~> 'SELECT 1')$$,
                 '22023', 'Invalid durable function graph: root.left: Unknown node_type ''NOT_A_TYPE''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
                 'a node a builder took unchecked, from a kept result set by hand, is checked by df.start');

-- ---------------------------------------------------------------------------------------------
-- Limits: depth 256 and 10,000 nodes
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.chain(n integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE g text := '{"node_type":"SQL","query":"SELECT 0"}';
BEGIN
    FOR i IN 1..n LOOP g := pg_temp.then_of(g, format('{"node_type":"SQL","query":"SELECT %s"}', i)); END LOOP;
    RETURN g;
END $$;
CREATE FUNCTION pg_temp.wide(extras integer) RETURNS text LANGUAGE sql AS $$
    SELECT '{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"extra_nodes":['
           || string_agg(format('{"node_type":"SQL","query":"SELECT %s"}', i), ',') || ']}'
      FROM generate_series(1, extras) i
$$;
SAVEPOINT limits;
SELECT lives_ok($$SELECT df.start(pg_temp.chain(256))$$, 'a graph 256 levels deep starts');
SELECT is((SELECT max(c)::integer FROM (SELECT count(*) AS c FROM df.nodes GROUP BY instance_id) s), 513, '... with all its 513 nodes');
ROLLBACK TO SAVEPOINT limits;
SELECT throws_ok($$SELECT df.start(pg_temp.chain(257))$$, '22023',
                 'Invalid durable function graph: root' || repeat('.left', 257) || ': Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.',
                 'a node at depth 257 is rejected, with its path');
SELECT throws_ok($$SELECT df.start(repeat('{"node_type":"LOOP","left_node":', 40000) || '{"node_type":"SQL","query":"x"}' || repeat('}', 40000))$$,
                 '22023', 'Invalid durable function graph: root: Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.',
                 'JSON nested too deep to parse gets the depth error, not a stack overflow');
SELECT lives_ok($$SELECT df.start(pg_temp.wide(9997))$$, 'a graph of exactly 10,000 nodes starts');
SELECT is((SELECT max(c)::integer FROM (SELECT count(*) AS c FROM df.nodes GROUP BY instance_id) s), 10000, '... with all its 10,000 nodes');
ROLLBACK TO SAVEPOINT limits;
SELECT throws_ok($$SELECT df.start(pg_temp.wide(9998))$$, '22023',
                 'Invalid durable function graph: root.extra_nodes[9997]: Workflow exceeds maximum node count of 10000. Simplify the workflow or break it into multiple instances.',
                 'the 10,001st node is rejected, with its path');

-- ---------------------------------------------------------------------------------------------
-- Nodes that could not run (checked here rather than failing at run time)
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.start('{"node_type":"THEN","left_node":{"node_type":"SQL","query":"a"}}')$$, '22023',
                 'Invalid durable function graph: root: THEN node requires left_node and right_node', 'a THEN without its second step');
SELECT throws_ok($$SELECT df.start('{"node_type":"RACE","right_node":{"node_type":"SQL","query":"a"}}')$$, '22023',
                 'Invalid durable function graph: root: RACE node requires left_node and right_node', 'a RACE with one branch');
SELECT throws_ok($$SELECT df.start('{"node_type":"THEN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"query":"x"}')$$, '22023',
                 'Invalid durable function graph: root: THEN node cannot have a query', 'a THEN with a query');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL"}')$$, '22023',
                 'Invalid durable function graph: root: SQL node requires a query', 'a SQL node without a query');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL","query":"a","left_node":{"node_type":"SQL","query":"b"}}')$$, '22023',
                 'Invalid durable function graph: root: SQL node cannot have left_node or right_node', 'a SQL node with a child');
SELECT throws_ok($$SELECT df.start('{"node_type":"IF","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"}}')$$, '22023',
                 'Invalid durable function graph: root: IF node requires condition_node, or a query config {"condition_type":"result_has_rows","result_name":"<name>"}',
                 'an IF without a condition');
SELECT throws_ok($$SELECT df.start('{"node_type":"LOOP","query":"{}"}')$$, '22023',
                 'Invalid durable function graph: root: LOOP node requires left_node (the loop body)', 'a LOOP without a body');
SELECT throws_ok($$SELECT df.start('{"node_type":"LOOP","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"}}')$$, '22023',
                 'Invalid durable function graph: root: LOOP node cannot have right_node', 'a LOOP with a right child');
SELECT throws_ok($$SELECT df.start('{"node_type":"SLEEP","query":"-5"}')$$, '22023',
                 'Invalid durable function graph: root: SLEEP query must be a non-negative whole number of seconds, got ''-5''',
                 'a negative sleep');
SELECT throws_ok($$SELECT df.start('{"node_type":"SLEEP","query":"1.5"}')$$, '22023',
                 'Invalid durable function graph: root: SLEEP query must be a non-negative whole number of seconds, got ''1.5''',
                 'a fractional sleep');
SELECT throws_ok(format('SELECT df.start(%L)', df.seq('a', '{"node_type":"WAIT_SCHEDULE","query":"{\"cron_expr\":\"0 0 * * 8\"}"}')),
                 '22023', 'Invalid durable function graph: root.right: Invalid cron expression ''0 0 * * 8'': day-of-week field: value 8 is out of range 0-7',
                 'an invalid cron expression in a hand-written node');
SELECT throws_ok($$SELECT df.start('{"node_type":"WAIT_SCHEDULE","query":"0 0 * * *"}')$$, '22023',
                 'Invalid durable function graph: root: WAIT_SCHEDULE query must be a JSON object {"cron_expr":"<cron expression>"}',
                 'a schedule node without its config');
SELECT throws_ok($$SELECT df.start('{"node_type":"SIGNAL","query":"{\"signal_name\":\"\",\"timeout_seconds\":null}"}')$$, '22023',
                 'Invalid durable function graph: root: Signal name cannot be empty', 'an empty signal name');
SELECT throws_ok($$SELECT df.start('{"node_type":"SIGNAL","query":"{\"signal_name\":\"go\",\"timeout_seconds\":0}"}')$$, '22023',
                 'Invalid durable function graph: root: Timeout must be positive', 'a non-positive signal timeout');
SELECT throws_ok($$SELECT df.start('{"node_type":"SIGNAL","query":"go"}')$$, '22023',
                 'Invalid durable function graph: root: SIGNAL query must be a JSON object {"signal_name":"<name>","timeout_seconds":<seconds or null>}',
                 'a signal node without its config');
SELECT throws_ok($$SELECT df.start('{"node_type":"BREAK","query":"{\"break_value\":1}"}')$$, '22023',
                 'Invalid durable function graph: root: BREAK query must be a JSON object {"break_value":<text or null>}',
                 'a break value that is not text');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL","query":"a","result_name":"1x"}')$$, '22023',
                 'Invalid durable function graph: root: result name ''1x'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'an invalid result name in a hand-written node');
SELECT throws_ok($$SELECT df.start('{"node_type":"SQL","query":"a","result_name":""}')$$, '22023',
                 'Invalid durable function graph: root: result name cannot be empty', 'an empty result name');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP","query":"{\"url\":\"file:///etc/passwd\",\"method\":\"GET\"}"}')$$, '22023',
                 'Invalid durable function graph: root: url must be an http:// or https:// URL with a host, got ''file:///etc/passwd''',
                 'an HTTP node with a URL that is not http or https (more in 050_http.sql)');
SELECT throws_ok($$SELECT df.start('{"node_type":"HTTP_MULTIPART","query":"{}"}')$$, '22023',
                 'Invalid durable function graph: root: HTTP_MULTIPART config needs "url", a string', 'a multipart node without a url');

-- Hand-written configs that are fine.
SELECT lives_ok($$SELECT df.start('{"node_type":"IF","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"query":"{\"condition_type\":\"result_has_rows\",\"result_name\":\"n\"}"}')$$,
                'an if_rows node written by hand');
SELECT lives_ok($$SELECT df.start('{"node_type":"SIGNAL","query":"{\"signal_name\":\"go\",\"timeout_seconds\":30}"}')$$,
                'a signal node written by hand');

-- Nothing of the failed starts is left behind.
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM df.instances), 3, 'only the three successful starts left instances');
SELECT is((SELECT count(*)::integer FROM df_engine.instances), 3, '... and engine instances');

SELECT * FROM finish();
ROLLBACK;
