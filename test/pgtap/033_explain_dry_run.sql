-- df.explain on graph values (dry run): byte-exact layout, node labels, validation messages, and
-- the evaluation of DSL expressions (as the caller, one statement, no side effects).
-- Expected texts use '·' for a space so trailing padding is visible: compare replace(x, ' ', '·').
BEGIN;
SELECT plan(50);

CREATE FUNCTION pg_temp.ex(p_input text) RETURNS text LANGUAGE sql AS $$
    SELECT replace(df.explain(p_input), ' ', '·')
$$;
-- graph node JSON helpers
CREATE FUNCTION pg_temp.q(p_sql text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('node_type', 'SQL', 'query', p_sql)
$$;
CREATE FUNCTION pg_temp.n(p_type text, p_left jsonb DEFAULT NULL, p_right jsonb DEFAULT NULL,
                          p_query text DEFAULT NULL, p_name text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object('node_type', p_type, 'left_node', p_left, 'right_node', p_right,
                                                'query', p_query, 'result_name', p_name))
$$;

SELECT has_function('df', 'explain', ARRAY['text'], 'df.explain(text) exists');
SELECT is((SELECT proisstrict FROM pg_proc WHERE oid = 'df.explain(text)'::regprocedure), true, 'df.explain is STRICT');
SELECT is(df.explain(NULL), NULL, 'NULL input gives NULL');

-- ---------------------------------------------------------------------------------------------
-- The examples of the original's documentation, byte for byte
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.ex('SELECT 1' ~> 'SELECT 2'),
          E'SQL:·SELECT·1······\n→·SQL:·SELECT·2····',
          'sequence: items joined by arrows, every line padded to the longest + 4');
SELECT is(pg_temp.ex(df.race('SELECT ''winner''', df.sleep(30))),
          E'RACE····························\n'
          '····║·branch·1:·················\n'
          '······├─SQL:·SELECT·''winner''····\n'
          '····║·branch·2:·················\n'
          '······└─SLEEP·30s···············',
          'RACE: branches with ├─ / └─ connectors');
SELECT is(pg_temp.ex(df.loop(df.wait_for_schedule('0 * * * *') ~> 'DELETE FROM logs', 'SELECT true')),
          E'LOOP·(while)·····················\n'
          '····↻·body:······················\n'
          '······└─WAIT·''0·*·*·*·*''·········\n'
          '······→·SQL:·DELETE·FROM·logs····\n'
          '····?·while:·····················\n'
          '······└─SQL:·SELECT·true·········',
          'LOOP with while-condition: body sequence and condition');
SELECT is(pg_temp.ex($$ 'SELECT 1' ~> 'SELECT 2' $$),
          E'SQL:·SELECT·1······\n→·SQL:·SELECT·2····',
          'a DSL expression is evaluated to its graph first');
SELECT is(pg_temp.ex('SELECT 1'), 'SQL:·SELECT·1····', 'plain SQL is explained as one SQL step');
SELECT is(pg_temp.ex(E'  \n SELECT 1  \t'), 'SQL:·SELECT·1····', 'surrounding whitespace is ignored');
SELECT is(pg_temp.ex(E'WITH\nx AS (SELECT 1) SELECT * FROM x'), E'SQL:·WITH··························\n'
          'x·AS·(SELECT·1)·SELECT·*·FROM·x····',
          'a line break inside a label starts a new padded line');

-- ---------------------------------------------------------------------------------------------
-- Layout of every compound node
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.ex(jsonb_build_object('node_type', 'IF', 'left_node', pg_temp.q('SELECT 1'),
                                        'right_node', pg_temp.q('SELECT 0'),
                                        'condition_node', pg_temp.q('SELECT true'))::text),
          E'IF··························\n'
          '····?·condition:············\n'
          '······└─SQL:·SELECT·true····\n'
          '····✓·then:·················\n'
          '······└─SQL:·SELECT·1·······\n'
          '····✗·else:·················\n'
          '······└─SQL:·SELECT·0·······',
          'IF: condition, then and else');
SELECT is(pg_temp.ex(jsonb_build_object('node_type', 'JOIN', 'left_node', pg_temp.n('THEN', pg_temp.q('a'), pg_temp.q('b')),
                                        'right_node', pg_temp.q('c'), 'extra_nodes', jsonb_build_array(pg_temp.q('d')),
                                        'result_name', 'j')::text),
          E'JOIN·(3)·|=>·''j''····\n'
          '····║·branch·1:·····\n'
          '······├─SQL:·a······\n'
          '······→·SQL:·b······\n'
          '····║·branch·2:·····\n'
          '······├─SQL:·c······\n'
          '····║·branch·3:·····\n'
          '······└─SQL:·d······',
          'JOIN of three: a sequence inside a branch, the extra branch last');
SELECT is(pg_temp.ex(pg_temp.n('RACE', jsonb_build_object('node_type', 'IF', 'left_node', pg_temp.q('t'), 'right_node', pg_temp.q('e'),
                                                          'condition_node', pg_temp.q('c')),
                               pg_temp.q('x'))::text),
          E'RACE······················\n'
          '····║·branch·1:···········\n'
          '······├─IF················\n'
          '······│···?·condition:····\n'
          '······│·····└─SQL:·c······\n'
          '······│···✓·then:·········\n'
          '······│·····└─SQL:·t······\n'
          '······│···✗·else:·········\n'
          '······│·····└─SQL:·e······\n'
          '····║·branch·2:···········\n'
          '······└─SQL:·x············',
          'a compound node that is not the last child draws │ down the side');
SELECT is(pg_temp.ex(pg_temp.n('THEN', pg_temp.q('a'),
                               pg_temp.n('THEN', pg_temp.n('LOOP', pg_temp.q('b')), pg_temp.q('c')))::text),
          E'SQL:·a···············\n'
          '→·LOOP·(infinite)····\n'
          '····↻·body:··········\n'
          '······└─SQL:·b·······\n'
          '→·SQL:·c·············',
          'nested THENs flatten into one sequence; compound items indent their children by 4');

-- ---------------------------------------------------------------------------------------------
-- Node labels
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.ex(pg_temp.q(repeat('x', 50))::text), 'SQL:·' || repeat('x', 50) || '····',
          'SQL text of 50 bytes is shown whole');
SELECT is(pg_temp.ex(pg_temp.q(repeat('x', 51))::text), 'SQL:·' || repeat('x', 47) || '...····',
          'longer SQL text is cut to 47 bytes + ...');
SELECT is(pg_temp.ex(pg_temp.q(repeat('é', 30))::text), 'SQL:·' || repeat('é', 23) || '...····',
          'the cut never splits a multi-byte character');
SELECT is(pg_temp.ex(pg_temp.n('SQL', p_query => 'SELECT 1', p_name => 'one')::text), 'SQL:·SELECT·1·|=>·''one''····',
          'a named result is shown after the label');
SELECT is(pg_temp.ex(pg_temp.n('THEN', pg_temp.q('a'), pg_temp.q('b'), p_name => 'seq')::text),
          E'SQL:·a······\n→·SQL:·b····', 'a sequence''s own name is not shown');
SELECT is(pg_temp.ex(pg_temp.n('SLEEP', p_query => '60', p_name => 'nap')::text), 'SLEEP·60s·|=>·''nap''····', 'SLEEP label');
SELECT is(pg_temp.ex(pg_temp.n('SIGNAL', p_query => '{"signal_name":"go","timeout_seconds":60}')::text),
          'SIGNAL·''go''·(60s)····', 'SIGNAL label with timeout');
SELECT is(pg_temp.ex(pg_temp.n('SIGNAL', p_query => '{"signal_name":"go","timeout_seconds":null}')::text),
          'SIGNAL·''go''····', 'SIGNAL label without timeout');
SELECT is(pg_temp.ex(pg_temp.n('BREAK', p_query => '{"break_value":null}')::text), 'BREAK····', 'BREAK without a value');
SELECT is(pg_temp.ex(pg_temp.n('BREAK', p_query => '{"break_value":"{\"status\": \"done\"}"}')::text),
          'BREAK·''{"status":·"done"}''····', 'BREAK with a value of 20 bytes is shown whole');
SELECT is(pg_temp.ex(pg_temp.n('BREAK', p_query => '{"break_value":"{\"status\": \"done!!!\"}"}')::text),
          'BREAK·''{"status":·"done!...''····', 'a longer BREAK value is cut to 17 bytes + ...');
SELECT is(pg_temp.ex(pg_temp.n('WAIT_SCHEDULE', p_query => '{"cron_expr":"*/5 * * * *"}')::text),
          'WAIT·''*/5·*·*·*·*''····', 'WAIT label shows the cron expression');
SELECT is(pg_temp.ex(pg_temp.n('HTTP', p_query => '{"url":"https://example.com/a/very/long/path/that/goes/on","method":"GET"}')::text),
          'HTTP·GET·https://example.com/a/very/long/path/...····', 'HTTP label: method and URL cut to 37 bytes + ...');
SELECT is(pg_temp.ex(pg_temp.n('HTTP_MULTIPART', p_query => '{"url":"https://x.test/up","parts":[]}')::text),
          'HTTP_MULTIPART·POST·https://x.test/up····', 'HTTP_MULTIPART label, method defaulting to POST');
SELECT is(pg_temp.ex(pg_temp.n('RACE', pg_temp.q('a'), pg_temp.q('b'), p_name => 'r')::text),
          E'RACE···············\n····║·branch·1:····\n······├─SQL:·a·····\n····║·branch·2:····\n······└─SQL:·b·····',
          'RACE shows no name, like the original');

-- ---------------------------------------------------------------------------------------------
-- Invalid graphs: the path of the bad node, as df.start reports it
-- ---------------------------------------------------------------------------------------------
SELECT is(df.explain(pg_temp.n('THEN', pg_temp.q('a'), pg_temp.n('FOO'))::text),
          'Invalid durable function graph: root.right: Unknown node_type ''FOO''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
          'unknown node type, with its path');
SELECT is(df.explain('{"node_type":"FOO"}'),
          'Invalid durable function graph: root: Unknown node_type ''FOO''. Valid types: SQL, THEN, IF, JOIN, LOOP, BREAK, RACE, SLEEP, WAIT_SCHEDULE, HTTP, HTTP_MULTIPART, SIGNAL',
          'unknown node type at the root');
SELECT is(df.explain(jsonb_build_object('node_type', 'SQL', 'query', 'x', 'condition_node', pg_temp.q('y'))::text),
          'Invalid durable function graph: root: condition_node is not valid for SQL nodes',
          'condition_node outside IF/LOOP');
SELECT is(df.explain(jsonb_build_object('node_type', 'THEN', 'left_node', pg_temp.q('a'), 'right_node', pg_temp.q('b'),
                                        'extra_nodes', jsonb_build_array(pg_temp.q('c')))::text),
          'Invalid durable function graph: root: extra_nodes is not valid for THEN nodes',
          'extra_nodes outside JOIN');
SELECT is(df.explain(pg_temp.n('LOOP', pg_temp.n('IF', pg_temp.q('a'), pg_temp.q('b'), '{"condition_node":"x"}'))::text),
          'Invalid durable function graph: root.left: condition_node in IF must be a first-class Durofut field, not embedded in query',
          'a condition embedded in the query is the legacy form and rejected');
SELECT matches(df.explain(jsonb_build_object('node_type', 'IF', 'left_node', pg_temp.q('a'), 'right_node', pg_temp.q('b'),
                                             'condition_node', pg_temp.q('c'), 'query', 'not json')::text),
          '^Invalid durable function graph: root: query in IF must be valid JSON config: ',
          'IF with a condition and a non-JSON query');
SELECT is(df.explain(jsonb_build_object('node_type', 'IF', 'left_node', pg_temp.q('a'), 'right_node', pg_temp.q('b'),
                                        'condition_node', pg_temp.q('c'), 'query', '[1]')::text),
          'Invalid durable function graph: root: query in IF must be a JSON config object',
          'IF with a condition and a query that is not an object');
SELECT is(df.explain(pg_temp.n('THEN', pg_temp.q('a'), jsonb_build_object('node_type', 'THEN', 'left_node', 5))::text),
          'Invalid durable function graph: root.right: failed to deserialize Durofut child: Durofut children must be JSON objects',
          'a child whose own child is not an object');
SELECT is(df.explain(repeat('{"node_type":"LOOP","left_node":', 257) || '{"node_type":"SQL","query":"x"}' || repeat('}', 257)),
          'Invalid durable function graph: root' || repeat('.left', 257) || ': Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.',
          'deeper than 256 levels');
SELECT unalike(df.explain(repeat('{"node_type":"LOOP","left_node":', 256) || '{"node_type":"SQL","query":"x"}' || repeat('}', 256)),
          'Invalid%', 'exactly 256 levels deep is fine');
SELECT is(df.explain(jsonb_build_object('node_type', 'JOIN', 'left_node', pg_temp.q('a'), 'right_node', pg_temp.q('b'),
                         'extra_nodes', (SELECT jsonb_agg(pg_temp.q('q' || g)) FROM generate_series(1, 9998) g))::text),
          'Invalid durable function graph: root.extra_nodes[9997]: Workflow exceeds maximum node count of 10000. Simplify the workflow or break it into multiple instances.',
          'more than 10,000 nodes');

-- ---------------------------------------------------------------------------------------------
-- Input that is no graph, and DSL evaluation
-- ---------------------------------------------------------------------------------------------
SELECT is(df.explain('hello world'),
          E'Cannot explain input: not a valid Durofut JSON, instance ID, SQL statement, or DSL expression.\nHint: DSL expressions use df.*() functions and operators like ~>, |=>, &, |.',
          'text that is neither graph, instance id, SQL nor DSL');
SELECT is(df.explain('{"node_type":"THEN","left_node":1}'), df.explain('hello world'),
          'JSON that is not a graph node is not explainable');
SELECT is(df.explain('df.sql(NULL)'), 'Expression returned NULL', 'an expression evaluating to NULL');
SELECT is(df.explain('df.no_such_builder(1)'), 'Failed to evaluate expression: function df.no_such_builder(integer) does not exist',
          'an expression that fails to evaluate');
SELECT is(df.explain($$ df.sql('x'); SELECT 1 $$), 'Failed to evaluate expression: cannot open multi-query plan as cursor',
          'the expression must be one statement');

CREATE TABLE public.t033_effects (x text);
CREATE FUNCTION pg_temp.t033_write() RETURNS text LANGUAGE sql AS $$ INSERT INTO public.t033_effects VALUES ('w') RETURNING x $$;
SELECT is(df.explain('df.sql(pg_temp.t033_write())'),
          'Failed to evaluate expression: cannot execute INSERT in a read-only transaction',
          'evaluation runs read-only');
CREATE TABLE pg_temp.t033_scratch (x text);
CREATE FUNCTION pg_temp.t033_write_temp() RETURNS text LANGUAGE sql AS $$ INSERT INTO pg_temp.t033_scratch VALUES ('w') RETURNING x $$;
SELECT is(pg_temp.ex('df.sql(pg_temp.t033_write_temp())'), 'SQL:·w····',
          'a temporary table may be written while evaluating (read-only allows it)');
SELECT is((SELECT count(*) FROM pg_temp.t033_scratch), 0::bigint, 'but that write is rolled back');
SET LOCAL df_t033.setting = 'before';
SELECT is(pg_temp.ex($$ df.sql(set_config('df_t033.setting', 'during', false)) $$), 'SQL:·during····',
          'evaluation sees the expression''s own effects');
SELECT is(current_setting('df_t033.setting'), 'before', 'and they are rolled back afterwards');

SELECT * FROM finish();
ROLLBACK;
