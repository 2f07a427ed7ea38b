-- What df.start writes: the instance row, one row per node with children as ids (condition and
-- extra branches inside the query config), the engine instance and its start message with the
-- orchestration input, the variables snapshot. Id collisions re-roll; a failure or a rollback
-- leaves nothing.
BEGIN;
SELECT plan(46);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't015_user') THEN CREATE ROLE t015_user LOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'T015 Mixed') THEN CREATE ROLE "T015 Mixed" LOGIN; END IF;
END $$;
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage('t015_user'); PERFORM df.grant_usage('T015 Mixed'); END $$;
RESET client_min_messages;

-- Renders the stored graph of an instance from its rows, children resolved through the ids.
CREATE FUNCTION pg_temp.shape(p_instance text, p_node text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    n df.nodes%ROWTYPE;
    c json;
    s text;
BEGIN
    SELECT * INTO n FROM df.nodes WHERE instance_id = p_instance AND id = p_node;
    IF NOT FOUND THEN RETURN '<missing ' || p_node || '>'; END IF;
    IF n.node_type IN ('IF', 'LOOP', 'JOIN') AND n.query IS NOT NULL THEN c := n.query::json; END IF;
    s := n.node_type;
    IF n.node_type IN ('SQL', 'SLEEP') THEN s := s || '[' || n.query || ']'; END IF;
    IF c ->> 'condition_type' IS NOT NULL THEN s := s || '[rows of ' || (c ->> 'result_name') || ']'; END IF;
    IF c ->> 'condition_node' IS NOT NULL THEN s := s || '?' || pg_temp.shape(p_instance, c ->> 'condition_node'); END IF;
    IF n.left_node IS NOT NULL OR n.right_node IS NOT NULL THEN
        s := s || '(' || concat_ws(',', pg_temp.shape(p_instance, n.left_node), pg_temp.shape(p_instance, n.right_node));
        IF c -> 'extra_nodes' IS NOT NULL THEN
            s := s || (SELECT string_agg(',+' || pg_temp.shape(p_instance, e #>> '{}'), '' ORDER BY o)
                         FROM json_array_elements(c -> 'extra_nodes') WITH ORDINALITY AS x(e, o));
        END IF;
        s := s || ')';
    END IF;
    RETURN s || coalesce('|' || n.result_name, '');
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.shape(text, text) TO PUBLIC;

-- A variable row without a value (only an administrator can write one).
INSERT INTO df.vars (name, value, owner) VALUES ('unset', NULL, 't015_user');
SET ROLE t015_user;
SELECT df.setvar('greeting', 'hello') AS ok \gset
SELECT df.start(df.join3('SELECT 1' |=> 'a', 'SELECT 2', df.sleep(3))
                ~> df.if('SELECT true', df.loop('SELECT 4', 'SELECT false'), df.if_rows('a', 'SELECT 5', 'SELECT 6'))
                |=> 'final',
                'nightly', current_database()) AS id \gset
SELECT df.setvar('greeting', 'changed later') AS ok \gset

SELECT matches(:'id'::text, '^[0-9a-f]{8}$', 'the instance id is 8 lowercase hex digits');
SELECT is((SELECT row(label, status, submitted_by::text, database, completed_at IS NULL)::text
             FROM df.instances WHERE id = :'id'),
          row('nightly', 'pending', 't015_user', current_database(), true)::text,
          'the instance row: label, pending, submitted_by = the caller, database, not completed');
SELECT ok((SELECT created_at = now() AND updated_at = now() FROM df.instances WHERE id = :'id'),
          'created_at and updated_at are the start time');
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = :'id'), 13, 'one row per node: 13');
SELECT is(pg_temp.shape(:'id', (SELECT root_node FROM df.instances WHERE id = :'id')),
          'THEN(JOIN(SQL[SELECT 1]|a,SQL[SELECT 2],+SLEEP[3]),IF?SQL[SELECT true](LOOP?SQL[SELECT false](SQL[SELECT 4]),IF[rows of a](SQL[SELECT 5],SQL[SELECT 6])))|final',
          'the rows rebuild exactly the graph that was started');
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = :'id' AND id ~ '^[0-9a-f]{8}$'), 13,
          'node ids are 8 lowercase hex digits');
SELECT is((SELECT count(DISTINCT id)::integer FROM df.nodes WHERE instance_id = :'id'), 13, 'node ids are distinct');
SELECT is((SELECT count(*)::integer FROM df.nodes
            WHERE instance_id = :'id' AND status = 'pending' AND result IS NULL AND error IS NULL
              AND status_details IS NULL AND submitted_by = 't015_user'::regrole AND database = current_database()),
          13, 'every node is pending, without result, of the submitter and database');
SELECT is((SELECT query FROM df.nodes WHERE instance_id = :'id' AND node_type = 'JOIN'),
          '{"extra_nodes":["' || (SELECT id FROM df.nodes WHERE instance_id = :'id' AND node_type = 'SLEEP') || '"]}',
          'the third JOIN branch is an id in the JOIN''s query config');
SELECT is((SELECT query FROM df.nodes WHERE instance_id = :'id' AND node_type = 'LOOP'),
          '{"condition_node":"' || (SELECT id FROM df.nodes WHERE instance_id = :'id' AND query = 'SELECT false') || '"}',
          'a condition is an id in the query config');
SELECT is((SELECT query FROM df.nodes WHERE instance_id = :'id' AND node_type = 'IF' AND query LIKE '%condition_type%'),
          '{"condition_type":"result_has_rows","result_name":"a"}', 'an if_rows config is kept as it is');
SELECT is((SELECT count(*)::integer
             FROM (SELECT i.root_node AS child FROM df.instances i WHERE i.id = :'id'
                   UNION ALL SELECT n.left_node FROM df.nodes n WHERE n.instance_id = :'id' AND n.left_node IS NOT NULL
                   UNION ALL SELECT n.right_node FROM df.nodes n WHERE n.instance_id = :'id' AND n.right_node IS NOT NULL) c
            WHERE NOT EXISTS (SELECT 1 FROM df.nodes n WHERE n.instance_id = :'id' AND n.id = c.child)),
          0, 'every child and the root are nodes of the instance');

-- The engine instance and its start message.
RESET ROLE;
SELECT is((SELECT row(name, status, execution_id, parent_id IS NULL)::text FROM df_engine.instances WHERE id = :'id'),
          row('df.function_graph', 'Pending', 1, true)::text, 'an engine instance of df.function_graph with the same id');
SELECT is((SELECT count(*)::integer FROM df_engine.orchestrator_queue
            WHERE instance_id = :'id' AND kind = 'ExecutionStarted' AND name = 'df.function_graph' AND execution_id = 1),
          1, 'its start message is queued');
SELECT is((SELECT payload FROM df_engine.orchestrator_queue WHERE instance_id = :'id'),
          (SELECT input FROM df_engine.instances WHERE id = :'id'), 'the message carries the input');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys((SELECT input::jsonb FROM df_engine.instances WHERE id = :'id')) k),
          ARRAY['database', 'instance_id', 'label', 'nodes', 'role', 'role_oid', 'root', 'vars'],
          'the input has the contract''s keys');
SELECT is((SELECT input::jsonb - 'nodes' FROM df_engine.instances WHERE id = :'id'),
          jsonb_build_object('instance_id', :'id', 'label', 'nightly', 'database', current_database(),
                             'role', 't015_user', 'role_oid', (SELECT oid FROM pg_roles WHERE rolname = 't015_user')::bigint,
                             'root', (SELECT root_node FROM df.instances WHERE id = :'id'),
                             'vars', '{"greeting": "hello"}'::jsonb),
          'the input: id, label, database, role name and oid, root, variables as they were at the start (NULL values skipped)');
SELECT is(jsonb_typeof((SELECT input::jsonb -> 'role_oid' FROM df_engine.instances WHERE id = :'id')), 'number',
          'role_oid is a JSON number');
SELECT is((SELECT input::jsonb -> 'nodes' FROM df_engine.instances WHERE id = :'id'),
          (SELECT jsonb_object_agg(id, jsonb_build_object('type', node_type, 'query', query, 'result_name', result_name,
                                                          'left', left_node, 'right', right_node))
             FROM df.nodes WHERE instance_id = :'id'),
          'the input''s nodes are exactly the node rows');

-- Another role: its own identity and variables; a name that needs quoting.
SET ROLE "T015 Mixed";
SELECT is(df.getvar('greeting'), NULL, 'a role does not see another role''s variables');
SELECT df.start('SELECT 1') AS id2 \gset
SELECT is((SELECT submitted_by::text FROM df.instances WHERE id = :'id2'), '"T015 Mixed"', 'submitted_by of a mixed-case role');
RESET ROLE;
SELECT is((SELECT input::jsonb ->> 'role' FROM df_engine.instances WHERE id = :'id2'), 'T015 Mixed',
          'the input has the role name unquoted');
SELECT is((SELECT input::jsonb -> 'vars' FROM df_engine.instances WHERE id = :'id2'), '{}'::jsonb,
          'a role without variables starts with none');
SELECT is((SELECT row(label IS NULL, database IS NULL)::text FROM df.instances WHERE id = :'id2'), '(t,t)',
          'label and database default to NULL');
SELECT is((SELECT (input::jsonb -> 'database') = 'null'::jsonb AND (input::jsonb -> 'label') = 'null'::jsonb
             FROM df_engine.instances WHERE id = :'id2'), true, '... and are null in the input');
SELECT is(pg_temp.shape(:'id2', (SELECT root_node FROM df.instances WHERE id = :'id2')), 'SQL[SELECT 1]',
          'plain SQL text starts as a single SQL step');

-- Labels are free text and not unique.
SET ROLE t015_user;
SELECT isnt(df.start('SELECT 1', 'nightly'), :'id', 'a second instance may carry the same label');
RESET ROLE;

-- ---------------------------------------------------------------------------------------------
-- Ids: an instance id taken by any role (even one the caller cannot see) is re-rolled.
-- ---------------------------------------------------------------------------------------------
SAVEPOINT ids;
CREATE TEMP SEQUENCE t015_ids;
CREATE TEMP TABLE t015_script (n integer PRIMARY KEY, id text);
GRANT SELECT ON t015_script TO PUBLIC;
CREATE OR REPLACE FUNCTION df._new_id() RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT id FROM t015_script WHERE n = (SELECT nextval('t015_ids')) $$;
INSERT INTO t015_script VALUES (1, '0000aaaa'), (2, :'id'), (3, :'id2'), (4, '0000bbbb');
SET ROLE "T015 Mixed";
SELECT is(df.start('SELECT 1'), '0000bbbb', 'ids taken by other instances, visible or not, are skipped');
RESET ROLE;
SELECT is((SELECT root_node FROM df.instances WHERE id = '0000bbbb'), '0000aaaa', 'the node got the first id');
-- A node id drawn twice within one graph is drawn again; the first use keeps it.
TRUNCATE t015_script;
INSERT INTO t015_script VALUES (1, '0000a001'), (2, '0000a001'), (3, '0000a002'), (4, '0000a003'), (5, '0000a004');
SELECT setval('t015_ids', 1, false) AS ignored \gset
SET ROLE "T015 Mixed";
SELECT is(df.start('SELECT 1' ~> 'SELECT 2'), '0000a004', 'a graph whose node ids repeat one starts');
RESET ROLE;
SELECT is((SELECT array_agg(n.id::text ORDER BY n.id) FROM df.nodes n WHERE n.instance_id = '0000a004'),
          ARRAY['0000a001', '0000a002', '0000a003'], '... with the repeated id drawn again');
TRUNCATE t015_script;
INSERT INTO t015_script SELECT g, :'id' FROM generate_series(2, 11) g;
INSERT INTO t015_script VALUES (1, '0000cccc');
SELECT setval('t015_ids', 1, false) AS ignored \gset
SET ROLE "T015 Mixed";
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '55000',
                 'Failed to create instance: exhausted 10 attempts to generate a collision-free ID',
                 'after ten collisions df.start gives up');
RESET ROLE;
TRUNCATE t015_script;
INSERT INTO t015_script SELECT g, '0000dddd' FROM generate_series(1, 40) g;
SELECT setval('t015_ids', 1, false) AS ignored \gset
SET ROLE "T015 Mixed";
SELECT throws_ok($$SELECT df.start('SELECT 1' ~> 'SELECT 2')$$, '55000',
                 'Invalid durable function graph: root: exhausted 10 attempts to generate a graph-unique node ID',
                 'node ids that keep colliding within the graph');
RESET ROLE;

-- A failure after the rows are written (here: the engine already has the id) leaves nothing.
TRUNCATE t015_script;
INSERT INTO t015_script VALUES (1, '0000eeee'), (2, '0000ffff');
SELECT setval('t015_ids', 1, false) AS ignored \gset
INSERT INTO df_engine.instances (id, name) VALUES ('0000ffff', 'something.else');
SET ROLE "T015 Mixed";
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '23505', 'orchestration instance "0000ffff" already exists',
                 'df.start fails when the engine cannot take the start');
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM df.instances WHERE id = '0000ffff')
          + (SELECT count(*)::integer FROM df.nodes WHERE instance_id = '0000ffff'), 0,
          '... and leaves no df rows');
ROLLBACK TO SAVEPOINT ids;
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'df._new_id()'::regprocedure), false, 'the id generator is restored');

-- ---------------------------------------------------------------------------------------------
-- Rolling back the caller's transaction undoes everything, in df and in the engine.
-- ---------------------------------------------------------------------------------------------
SAVEPOINT caller_txn;
SET ROLE t015_user;
SELECT df.start('SELECT 1' ~> 'SELECT 2', 'to be rolled back') AS gone \gset
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM df_engine.instances WHERE id = :'gone'), 1, 'before the rollback the engine instance exists');
ROLLBACK TO SAVEPOINT caller_txn;
SELECT is((SELECT count(*)::integer FROM df.instances WHERE id = :'gone'), 0, 'after it: no instance row');
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = :'gone'), 0, 'no node rows');
SELECT is((SELECT count(*)::integer FROM df_engine.instances WHERE id = :'gone'), 0, 'no engine instance');
SELECT is((SELECT count(*)::integer FROM df_engine.executions WHERE instance_id = :'gone'), 0, 'no engine execution');
SELECT is((SELECT count(*)::integer FROM df_engine.orchestrator_queue WHERE instance_id = :'gone'), 0, 'no start message');

-- df.start works inside a subtransaction (savepoints, exception blocks).
SET ROLE t015_user;
SELECT lives_ok($$SELECT df.start('SELECT 1')$$, 'df.start inside an exception block');
SAVEPOINT inner_sp;
SELECT matches(df.start('SELECT 1'), '^[0-9a-f]{8}$', 'df.start inside a savepoint');
RELEASE SAVEPOINT inner_sp;
RESET ROLE;
-- Starting many workflows in one transaction takes no subtransaction per start: an exception
-- block that writes takes a subtransaction id, and a transaction with more than 64 of them makes
-- every other session's visibility checks go through pg_subtrans while it runs. A row written by a
-- subtransaction carries its id as xmin; the rows here carry that of a row written beside them.
CREATE TEMP TABLE t015_level AS SELECT 1 AS one;
SET ROLE t015_user;
SELECT count(df.start('SELECT 1', 'many in one transaction')) AS started FROM generate_series(1, 70) \gset
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM df.instances d JOIN df_engine.instances e ON e.id = d.id
            WHERE d.label = 'many in one transaction' AND e.xmin = (SELECT l.xmin FROM t015_level l)),
          70, '70 starts in one transaction write their engine instances in it, none in a subtransaction of its own');

SELECT is((SELECT count(*)::integer FROM df.nodes n
            WHERE NOT EXISTS (SELECT 1 FROM df.instances i
                               WHERE i.id = n.instance_id AND i.submitted_by::oid = n.submitted_by::oid)),
          0, 'at the end every node belongs to an instance of its own submitter');

SELECT * FROM finish();
ROLLBACK;
