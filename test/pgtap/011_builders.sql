-- The graph builders: byte-exact JSON, the auto-wrap rules, strictness, and their errors.
BEGIN;
SELECT plan(80);

-- ---------------------------------------------------------------------------------------------
-- The original's documented outputs, byte for byte
-- ---------------------------------------------------------------------------------------------
SELECT is(df.sql('SELECT 1'), '{"node_type":"SQL","query":"SELECT 1"}', 'df.sql');
SELECT is(df.seq('SELECT 1', 'SELECT 2'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"}}',
          'df.seq wraps both operands');
SELECT is(df.as(df.seq('SELECT 1', 'SELECT 2'), 'x'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"},"result_name":"x"}',
          'df.as names the outermost node');
SELECT is(df.join3('SELECT 1', 'SELECT 2', 'SELECT 3'),
          '{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"},"extra_nodes":[{"node_type":"SQL","query":"SELECT 3"}]}',
          'df.join3 puts the third branch in extra_nodes');
SELECT is(df.join('SELECT 1', 'SELECT 2'),
          '{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"}}',
          'df.join');
SELECT is(df.race('SELECT 1', 'SELECT 2'),
          '{"node_type":"RACE","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"}}',
          'df.race');
SELECT is(df.if('SELECT true', 'SELECT 1', 'SELECT 0'),
          '{"node_type":"IF","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 0"},"condition_node":{"node_type":"SQL","query":"SELECT true"}}',
          'df.if: then left, else right, condition embedded');
SELECT is(df.if_rows('found', 'SELECT 1', 'SELECT 0'),
          '{"node_type":"IF","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 0"},"query":"{\"condition_type\":\"result_has_rows\",\"result_name\":\"found\"}"}',
          'df.if_rows keeps its condition as a query config');
SELECT is(df.loop(df.sleep(5), 'SELECT false'),
          '{"node_type":"LOOP","left_node":{"node_type":"SLEEP","query":"5"},"condition_node":{"node_type":"SQL","query":"SELECT false"}}',
          'df.loop with a while-condition');
SELECT is(df.loop('SELECT 1'), '{"node_type":"LOOP","left_node":{"node_type":"SQL","query":"SELECT 1"}}',
          'df.loop without a condition');
SELECT is(df.loop('SELECT 1', NULL), '{"node_type":"LOOP","left_node":{"node_type":"SQL","query":"SELECT 1"}}',
          'df.loop with a NULL condition loops forever');
SELECT is(df.break(), '{"node_type":"BREAK","query":"{\"break_value\":null}"}', 'df.break()');
SELECT is(df.break(NULL), '{"node_type":"BREAK","query":"{\"break_value\":null}"}', 'df.break(NULL) is df.break()');
SELECT is(df.break('{"status": "done"}'),
          '{"node_type":"BREAK","query":"{\"break_value\":\"{\\\"status\\\": \\\"done\\\"}\"}"}',
          'df.break keeps its value as a literal string');
SELECT is(df.break('SELECT 1'), '{"node_type":"BREAK","query":"{\"break_value\":\"SELECT 1\"}"}',
          'df.break never wraps its value as SQL');
SELECT is(df.sleep(60), '{"node_type":"SLEEP","query":"60"}', 'df.sleep(60)');
SELECT is(df.sleep(0), '{"node_type":"SLEEP","query":"0"}', 'df.sleep(0) is allowed');
SELECT is(df.sleep(999999999), '{"node_type":"SLEEP","query":"999999999"}', 'df.sleep takes up to 999999999 seconds');
SELECT is(df.wait_for_signal('go', 60), '{"node_type":"SIGNAL","query":"{\"signal_name\":\"go\",\"timeout_seconds\":60}"}',
          'df.wait_for_signal with a timeout');
SELECT is(df.wait_for_signal('go'), '{"node_type":"SIGNAL","query":"{\"signal_name\":\"go\",\"timeout_seconds\":null}"}',
          'df.wait_for_signal without a timeout');
SELECT is(df.wait_for_schedule('*/5 * * * *'), '{"node_type":"WAIT_SCHEDULE","query":"{\"cron_expr\":\"*/5 * * * *\"}"}',
          'df.wait_for_schedule stores only the expression');

-- ---------------------------------------------------------------------------------------------
-- String escaping: standard JSON escapes, non-ASCII and / kept literally
-- ---------------------------------------------------------------------------------------------
SELECT is(df.sql(E'SELECT ''a"b\\c''\n\t/\u00e9\u0001'),
          E'{"node_type":"SQL","query":"SELECT ''a\\"b\\\\c''\\n\\t/\u00e9\\u0001"}',
          'quotes, backslashes and control characters are escaped; / and non-ASCII are not');
SELECT is(df.as('SELECT 1', '_x9'), '{"node_type":"SQL","query":"SELECT 1","result_name":"_x9"}',
          'df.as on plain SQL wraps it first');
SELECT is(df.as(df.as('SELECT 1', 'a'), 'b'), '{"node_type":"SQL","query":"SELECT 1","result_name":"b"}',
          'naming again overwrites the name');

-- ---------------------------------------------------------------------------------------------
-- Auto-wrap
-- ---------------------------------------------------------------------------------------------
SELECT is(df.seq('{"a": 1}', '[1, 2]'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"{\"a\": 1}"},"right_node":{"node_type":"SQL","query":"[1, 2]"}}',
          'JSON that is not a node (no node_type, or not an object) is wrapped as SQL, verbatim');
SELECT is(df.seq('{"node_type":"FOO"}', '{"node_type": 5}'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"{\"node_type\":\"FOO\"}"},"right_node":{"node_type":"SQL","query":"{\"node_type\": 5}"}}',
          'an unknown or non-string node_type is wrapped as SQL');
SELECT is(df.seq('{not json', 'SELECT 2'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"{not json"},"right_node":{"node_type":"SQL","query":"SELECT 2"}}',
          'text that looks like JSON but is not is wrapped as SQL');
SELECT is(df.seq(' {"result_name":"r","query":"SELECT 1","extra":[1],"node_type":"SQL","left_node":null}', 'SELECT 2'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"SELECT 1","result_name":"r"},"right_node":{"node_type":"SQL","query":"SELECT 2"}}',
          'an operand node is re-serialised: canonical field order, unknown keys and null fields dropped');
SELECT is(df.seq('{"node_type":"THEN", "left_node" : { "node_type" : "SQL", "query":"a", "zz": 1 } ,"right_node":{"node_type":"SQL","query":"b"}}', 'c'),
          '{"node_type":"THEN","left_node":{"node_type":"THEN","left_node":{ "node_type" : "SQL", "query":"a", "zz": 1 },"right_node":{"node_type":"SQL","query":"b"}},"right_node":{"node_type":"SQL","query":"c"}}',
          'children of an operand pass through byte for byte');
SELECT is(df.seq('{"node_type":"SQL","query":"caf\u00e9 \/ \"q\""}', 'x'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"café / \"q\""},"right_node":{"node_type":"SQL","query":"x"}}',
          'an operand''s own fields are decoded and re-escaped canonically');
SELECT is(df.seq(df.seq('a', 'b'), df.join('c', 'd')),
          '{"node_type":"THEN","left_node":{"node_type":"THEN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"}},"right_node":{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"c"},"right_node":{"node_type":"SQL","query":"d"}}}',
          'builders compose');
SELECT is(df.seq('{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"extra_nodes":[{"node_type":"SQL","query":"c"}, {"node_type":"SQL","query":"d"}]}', 'e'),
          '{"node_type":"THEN","left_node":{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"extra_nodes":[{"node_type":"SQL","query":"c"},{"node_type":"SQL","query":"d"}]},"right_node":{"node_type":"SQL","query":"e"}}',
          'extra_nodes are kept, each entry verbatim');
SELECT is(df.seq('{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"},"extra_nodes":[]}', 'e'),
          '{"node_type":"THEN","left_node":{"node_type":"JOIN","left_node":{"node_type":"SQL","query":"a"},"right_node":{"node_type":"SQL","query":"b"}},"right_node":{"node_type":"SQL","query":"e"}}',
          'an empty extra_nodes is omitted');
SELECT is(df.if(df.sleep(1), df.wait_for_signal('s'), df.break()),
          '{"node_type":"IF","left_node":{"node_type":"SIGNAL","query":"{\"signal_name\":\"s\",\"timeout_seconds\":null}"},"right_node":{"node_type":"BREAK","query":"{\"break_value\":null}"},"condition_node":{"node_type":"SLEEP","query":"1"}}',
          'any node can be an operand');

-- ---------------------------------------------------------------------------------------------
-- Malformed nodes are errors, not SQL
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.seq('{"node_type":"THEN","left_node":123,"right_node":{"node_type":"SQL","query":"b"}}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: Durofut children must be JSON objects',
                 'a node whose child is not an object');
SELECT throws_ok($$SELECT df.seq('{"node_type":"IF","condition_node":"SELECT 1"}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: condition_node must be a Durofut JSON object',
                 'a condition that is not an object');
SELECT throws_ok($$SELECT df.seq('{"node_type":"JOIN","extra_nodes":["x"]}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: extra_nodes entries must be Durofut JSON objects',
                 'an extra branch that is not an object');
SELECT throws_ok($$SELECT df.seq('{"node_type":"JOIN","extra_nodes":"x"}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: invalid type: string "x", expected a sequence',
                 'extra_nodes that is not an array');
SELECT throws_ok($$SELECT df.seq('{"node_type":"SQL","query":1}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: invalid type: integer `1`, expected a string',
                 'a query that is not a string');
SELECT throws_ok($$SELECT df.seq('{"node_type":"SQL","query":"a","result_name":true}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: invalid type: boolean `true`, expected a string',
                 'a result_name that is not a string');
SELECT throws_ok($$SELECT df.seq('{"node_type":"SQL","query":"a","query":"b"}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: duplicate field `query`',
                 'a repeated field');
SELECT throws_ok($$SELECT df.seq('{"node_type":"FOO","left_node":1}', 'x')$$,
                 '22023', 'Invalid Durofut JSON: failed to deserialize workflow step: Durofut children must be JSON objects',
                 'a malformed node is an error even with an unknown node_type');
SELECT throws_ok($$SELECT df.seq(repeat('{"node_type":"LOOP","left_node":', 30000) || '1' || repeat('}', 30000), 'x')$$,
                 '22023', 'Invalid Durofut JSON: nested too deeply (a graph may be at most 256 levels deep)',
                 'JSON nested beyond the parser''s stack gets a clear error');

-- ---------------------------------------------------------------------------------------------
-- Argument checks
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.as('SELECT 1', '')$$, '22023', 'df.as: result name cannot be empty', 'empty result name');
SELECT throws_ok($$SELECT df.as('SELECT 1', '1abc')$$, '22023',
                 'df.as: result name ''1abc'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'a result name must not start with a digit');
SELECT throws_ok($$SELECT df.as('SELECT 1', 'a-b')$$, '22023',
                 'df.as: result name ''a-b'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'a result name must be an identifier');
SELECT throws_ok($$SELECT df.as('SELECT 1', 'né')$$, '22023',
                 'df.as: result name ''né'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'a result name is ASCII');
SELECT throws_ok($$SELECT df.as('{"node_type":"THEN","left_node":7}', '1x')$$, '22023',
                 'df.as: result name ''1x'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*',
                 'df.as checks the name before the operand');
SELECT throws_ok($$SELECT df.sleep(-1)$$, '22023', 'Sleep duration must be non-negative', 'negative sleep');
SELECT throws_ok($$SELECT df.wait_for_signal('')$$, '22023', 'Signal name cannot be empty', 'empty signal name');
SELECT throws_ok($$SELECT df.wait_for_signal('go', 0)$$, '22023', 'Timeout must be positive', 'zero signal timeout');
SELECT throws_ok($$SELECT df.wait_for_signal('go', -5)$$, '22023', 'Timeout must be positive', 'negative signal timeout');
SELECT throws_ok($$SELECT df.wait_for_signal(NULL)$$, '22004', 'df.wait_for_signal(): name must not be NULL', 'NULL signal name');
SELECT throws_ok($$SELECT df.loop(NULL)$$, '22004', 'df.loop(): body must not be NULL', 'NULL loop body');
SELECT throws_ok($$SELECT df.wait_for_schedule('* * * *')$$, '22023',
                 'Invalid cron expression ''* * * *'': expected 5 fields (minute hour day-of-month month day-of-week), got 4',
                 'a cron expression is checked when built');
SELECT throws_ok($$SELECT df.http('https://example.com', 'HEAD')$$, '22023',
                 'Invalid HTTP method: HEAD. Must be GET, POST, PUT, DELETE, or PATCH',
                 'df.http checks its method when built (more in 050_http.sql)');
SELECT throws_ok($$SELECT df.http_multipart('https://example.com', 'POST', '[]')$$, '22023',
                 'parts must contain at least one part', 'df.http_multipart checks its parts when built');

-- ---------------------------------------------------------------------------------------------
-- STRICT: a NULL argument gives NULL and no error
-- ---------------------------------------------------------------------------------------------
SELECT ok(df.seq('a', NULL) IS NULL AND df.seq(NULL, 'a') IS NULL, 'df.seq with a NULL operand is NULL');
SELECT ok(df.as(NULL, 'x') IS NULL AND df.as('a', NULL) IS NULL, 'df.as with NULL is NULL');
SELECT ok(df.sql(NULL) IS NULL AND df.join('a', NULL) IS NULL AND df.join3('a', 'b', NULL) IS NULL
          AND df.race(NULL, 'b') IS NULL, 'df.sql, df.join, df.join3, df.race with NULL are NULL');
SELECT ok(df.if('a', 'b', NULL) IS NULL AND df.if_rows(NULL, 'a', 'b') IS NULL, 'df.if and df.if_rows with NULL are NULL');
SELECT ok(df.sleep(NULL) IS NULL AND df.wait_for_schedule(NULL) IS NULL, 'df.sleep and df.wait_for_schedule with NULL are NULL');

-- ---------------------------------------------------------------------------------------------
-- Non-future helpers: their plain-text results are not workflow steps
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT df.seq(df.setvar('t011_v', '1'), 'SELECT 1')$$, '22023',
                 'df.setvar cannot be used as a workflow step. Call df.setvar before df.start().',
                 'df.setvar''s result handed to a builder');
SELECT throws_ok($$SELECT df.seq('SELECT 1', df.unsetvar('t011_v'))$$, '22023',
                 'df.unsetvar cannot be used as a workflow step. Call df.unsetvar before df.start().',
                 'df.unsetvar''s result handed to a builder');
SELECT throws_ok($$SELECT df.as(df.clearvars(), 'x')$$, '22023',
                 'df.clearvars cannot be used as a workflow step. Call df.clearvars before df.start().',
                 'df.clearvars''s result handed to a builder');
SELECT lives_ok($sql$DO $d$ BEGIN PERFORM df.setvar('t011_v', '1'); PERFORM df.seq('SELECT {t011_v}', 'SELECT 2'); END $d$$sql$,
                'other text in the same statement as df.setvar is still a SQL step');
SELECT is(df.setvar('t011_w', '1'), 'OK', 'df.setvar returns OK');
SELECT is(df.seq('OK', 'SELECT 1'),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"OK"},"right_node":{"node_type":"SQL","query":"SELECT 1"}}',
          'the guard only applies within the statement that called the helper');

-- The result of a builder is text that json accepts and jsonb reads as the same node.
SELECT is((df.seq('a', 'b')::jsonb ->> 'node_type'), 'THEN', 'builder output is valid JSON');
SELECT is(df.seq('a', df.seq('b', df.seq('c', 'd')))::jsonb #>> '{right_node,right_node,right_node,query}', 'd',
          'nested output is valid JSON');
SELECT is(df.wait_for_signal('a"b')::jsonb ->> 'query', '{"signal_name":"a\"b","timeout_seconds":null}',
          'a signal name is escaped inside its config');
SELECT is(df.if_rows('r"1', 'a', 'b')::jsonb ->> 'query', '{"condition_type":"result_has_rows","result_name":"r\"1"}',
          'df.if_rows does not check the result name at build time, and escapes it');
SELECT is(df.wait_for_schedule(' 0 0 * * 7 ')::jsonb ->> 'query', '{"cron_expr":" 0 0 * * 7 "}',
          'the cron expression is stored as written');
-- ---------------------------------------------------------------------------------------------
-- A combinator's result is kept for the next combinator, which takes it without decoding it
-- ---------------------------------------------------------------------------------------------
-- The setting as it is once the argument has been computed (PL/pgSQL: a SQL function would be
-- inlined, and its unused argument never computed).
CREATE FUNCTION pg_temp.kept_after(p_built text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN RETURN current_setting('df.built_node', true); END $$;
SELECT is(pg_temp.kept_after(df.seq('k1', 'k2')),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"k1"},"right_node":{"node_type":"SQL","query":"k2"}}',
          'a combinator keeps its result in df.built_node');
SELECT is(pg_temp.kept_after(df.sleep(1)),
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"k1"},"right_node":{"node_type":"SQL","query":"k2"}}',
          'a leaf builder leaves it, in a later statement of the transaction too');
SELECT set_config('df.built_node', '{"node_type":"NOT_A_TYPE"}', true);
SELECT is('{"node_type":"NOT_A_TYPE"}' ~> 'b',
          '{"node_type":"THEN","left_node":{"node_type":"NOT_A_TYPE"},"right_node":{"node_type":"SQL","query":"b"}}',
          'an operand equal to the kept text is taken as it is, without decoding (df.start checks it)');
SELECT is('{"node_type":"NOT_A_TYPE"}' ~> 'b',
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"{\"node_type\":\"NOT_A_TYPE\"}"},"right_node":{"node_type":"SQL","query":"b"}}',
          'any other operand is decoded: a JSON object of an unknown node_type is a SQL step');
-- A chain of 250 steps, one ~> per statement, against the same chain written out.
CREATE FUNCTION pg_temp.chain(n integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v text := 's1';
BEGIN
    FOR i IN 2..n LOOP
        v := v ~> ('s' || i);
    END LOOP;
    RETURN v;
END $$;
SELECT is(pg_temp.chain(250),
          (WITH RECURSIVE c(i, t) AS (
               SELECT 1, '{"node_type":"SQL","query":"s1"}'
               UNION ALL
               SELECT i + 1, '{"node_type":"THEN","left_node":' || t || ',"right_node":{"node_type":"SQL","query":"s'
                             || (i + 1) || '"}}'
                 FROM c WHERE i < 250)
           SELECT t FROM c WHERE i = 250),
          'a chain of 250 steps built with ~> is the chain written out');
SELECT is(df.seq(df.as(pg_temp.chain(3), 'r'), df.join(pg_temp.chain(2), 'x')),
          '{"node_type":"THEN","left_node":{"node_type":"THEN","left_node":{"node_type":"THEN","left_node":{"node_type":"SQL","query":"s1"},"right_node":{"node_type":"SQL","query":"s2"}},"right_node":{"node_type":"SQL","query":"s3"},"result_name":"r"},"right_node":{"node_type":"JOIN","left_node":{"node_type":"THEN","left_node":{"node_type":"SQL","query":"s1"},"right_node":{"node_type":"SQL","query":"s2"}},"right_node":{"node_type":"SQL","query":"x"}}}',
          'kept results named, joined and sequenced');

SELECT is(df.version(), '0.2.0', 'df.version() is the release version');

SELECT * FROM finish();
ROLLBACK;
