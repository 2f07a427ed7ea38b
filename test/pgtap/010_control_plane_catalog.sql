-- The control plane's catalog: tables, constraints, indexes, row-level security, the exact SQL
-- signatures of the public functions, which functions are SECURITY DEFINER, and who may execute
-- what.
BEGIN;
SELECT plan(79);

SELECT is((SELECT kind FROM df_engine.schema_files WHERE file = 'functions/07_start.sql'), 'functions',
          'the function file of df.start is recorded');
SELECT has_schema('df', 'schema df exists');
SELECT ok(to_regclass('df.instances') IS NOT NULL AND to_regclass('df.nodes') IS NOT NULL
          AND to_regclass('df.vars') IS NOT NULL AND to_regclass('df._usage_functions') IS NOT NULL,
          'schema df has the tables instances, nodes, vars and _usage_functions');

-- df.instances
SELECT columns_are('df', 'instances',
    ARRAY['id', 'label', 'root_node', 'status', 'submitted_by', 'database', 'created_at', 'updated_at', 'completed_at',
          'terminal_at'],
    'df.instances has the original''s columns, and terminal_at');
SELECT col_type_is('df', 'instances', 'id', 'character varying(8)', 'instances.id is varchar(8)');
SELECT col_type_is('df', 'instances', 'submitted_by', 'regrole', 'instances.submitted_by is regrole');
SELECT col_is_pk('df', 'instances', 'id', 'instances is keyed by id');
SELECT col_default_is('df', 'instances', 'status', 'pending', 'a new instance is pending');
SELECT is((SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint
            WHERE conrelid = 'df.instances'::regclass AND contype = 'c'),
          ARRAY['instances_id_format_chk', 'instances_root_node_format_chk', 'instances_status_chk'],
          'df.instances has the id, root_node and status checks');
SELECT is((SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'instances_identity_key'),
          'UNIQUE (id, submitted_by)', 'instances_identity_key is UNIQUE (id, submitted_by)');
SELECT is((SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'df.instances'::regclass AND contype = 'f'),
          0, 'df.instances has no foreign key to its nodes: df.start checks the graph (migration 007)');

-- df.nodes
SELECT columns_are('df', 'nodes',
    ARRAY['id', 'instance_id', 'node_type', 'query', 'result_name', 'left_node', 'right_node', 'status',
          'result', 'error', 'submitted_by', 'database', 'created_at', 'updated_at', 'status_details'],
    'df.nodes has the original''s columns');
SELECT col_is_pk('df', 'nodes', ARRAY['instance_id', 'id'], 'nodes are keyed by (instance_id, id)');
SELECT col_type_is('df', 'nodes', 'result', 'jsonb', 'nodes.result is jsonb');
SELECT col_type_is('df', 'nodes', 'status_details', 'jsonb', 'nodes.status_details is jsonb');
SELECT is((SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'df.nodes'::regclass AND contype = 'f'),
          0, 'df.nodes has no foreign key: df._insert_graph writes a node''s instance first (migration 013)');
SELECT is((SELECT array_agg(tgname::text || ':' || tgfoid::regproc::text ORDER BY tgname) FROM pg_trigger
            WHERE tgrelid IN ('df.nodes'::regclass, 'df.instances'::regclass) AND NOT tgisinternal),
          ARRAY['instances_delete_rows:df._delete_rows_of_deleted_instances',
                'instances_keep_identity:df._refuse_identity_change',
                'nodes_check_shape:df._check_node_shape',
                'nodes_keep_instance:df._refuse_identity_change'],
          'df.nodes and df.instances have the triggers that keep a node with its instance, and the shape trigger');
SELECT is((SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint
            WHERE conrelid = 'df.nodes'::regclass AND contype = 'c'),
          ARRAY['nodes_result_status_chk', 'nodes_status_chk'],
          'df.nodes has the status checks as constraints (the shape checks are its trigger''s, migration 016)');

-- df.vars
SELECT columns_are('df', 'vars', ARRAY['name', 'value', 'owner'], 'df.vars has name, value, owner');
SELECT col_is_pk('df', 'vars', ARRAY['owner', 'name'], 'vars are keyed by (owner, name)');

-- Indexes
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'df' AND indexname = 'idx_instances_status'),
          'CREATE INDEX idx_instances_status ON df.instances USING btree (status, created_at DESC, id)',
          'status listing index');
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'df' AND indexname = 'idx_instances_created_at'),
          'CREATE INDEX idx_instances_created_at ON df.instances USING btree (created_at DESC, id)',
          'unfiltered listing index');
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'df' AND indexname = 'idx_instances_label'),
          'CREATE INDEX idx_instances_label ON df.instances USING btree (label, created_at DESC, id) WHERE (label IS NOT NULL)',
          'label listing index, partial');
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'df' AND indexname = 'idx_instances_terminal_age'),
          'CREATE INDEX idx_instances_terminal_age ON df.instances USING btree (COALESCE(terminal_at, created_at), id) WHERE (status = ANY (ARRAY[''completed''::text, ''failed''::text, ''cancelled''::text]))',
          'reconciliation index on the age of terminal instances');
SELECT is((SELECT indexdef FROM pg_indexes WHERE schemaname = 'df' AND indexname = 'idx_instances_submitter'),
          'CREATE INDEX idx_instances_submitter ON df.instances USING btree (submitted_by, created_at DESC, id)',
          'each role''s newest-first page, under row-level security');
SELECT ok(EXISTS (SELECT 1 FROM pg_statistic_ext s WHERE s.stxnamespace = 'df'::regnamespace
                     AND s.stxname = 'instances_terminal_age_stats'),
          'statistics on the terminal-age expression');

-- Row-level security
SELECT is((SELECT array_agg(relname::text ORDER BY relname) FROM pg_class
            WHERE relnamespace = 'df'::regnamespace AND relrowsecurity AND NOT relforcerowsecurity),
          ARRAY['instances', 'nodes', 'role_keys', 'vars'],
          'RLS is enabled, not forced, on instances, nodes, role_keys and vars');
SELECT policies_are('df', 'instances', ARRAY['instances_user_isolation'], 'instances has one isolation policy');
SELECT policies_are('df', 'nodes', ARRAY['nodes_user_isolation'], 'nodes has one isolation policy');
SELECT policies_are('df', 'vars', ARRAY['vars_user_isolation'], 'vars has one isolation policy');
SELECT is((SELECT pg_get_expr(polqual, polrelid) || ' / ' || pg_get_expr(polwithcheck, polrelid)
             FROM pg_policy WHERE polname = 'instances_user_isolation'),
          '((submitted_by)::oid = ((quote_ident((CURRENT_USER)::text))::regrole)::oid) / ((submitted_by)::oid = ((quote_ident((CURRENT_USER)::text))::regrole)::oid)',
          'instances: own rows only, for reading and writing');
SELECT is((SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'vars_user_isolation'),
          '((owner)::oid = ((quote_ident((CURRENT_USER)::text))::regrole)::oid)', 'vars: own rows only');

-- df.workers
SELECT has_view('df', 'workers', 'df.workers exists');
SELECT columns_are('df', 'workers', ARRAY['id', 'host', 'pid', 'mode', 'started_at', 'last_seen_at'],
                   'df.workers shows the heartbeat columns');
SELECT ok(NOT has_table_privilege('public', 'df.workers', 'SELECT'), 'PUBLIC cannot read df.workers');
SELECT has_view('df', '_worker_epoch', 'df._worker_epoch exists, under the original''s name');
SELECT columns_are('df', '_worker_epoch', ARRAY['epoch_id', 'started_at', 'last_seen_at'],
                   'df._worker_epoch shows the original''s columns');
SELECT ok(NOT has_table_privilege('public', 'df._worker_epoch', 'SELECT'), 'PUBLIC cannot read df._worker_epoch');

-- Nothing for PUBLIC on the schema or the tables.
SELECT ok(NOT has_schema_privilege('public', 'df', 'USAGE'), 'PUBLIC has no USAGE on schema df');
SELECT ok(NOT has_table_privilege('public', 'df.instances', 'SELECT,INSERT,UPDATE,DELETE')
          AND NOT has_table_privilege('public', 'df.nodes', 'SELECT,INSERT,UPDATE,DELETE')
          AND NOT has_table_privilege('public', 'df.vars', 'SELECT,INSERT,UPDATE,DELETE'),
          'PUBLIC has no privileges on instances, nodes, vars');

-- Exact signatures (argument names, defaults), strictness and volatility of the public API.
SELECT is(
    (SELECT array_agg(p.oid::regprocedure::text || ' | ' || pg_get_function_arguments(p.oid) || ' | '
                      || pg_get_function_result(p.oid) || ' | '
                      || CASE WHEN p.proisstrict THEN 'strict' ELSE 'called on null' END
                      ORDER BY p.oid::regprocedure::text COLLATE "C")
       FROM pg_proc p
      WHERE p.pronamespace = 'df'::regnamespace
        AND p.proname IN ('sql', 'seq', 'as', 'join', 'join3', 'race', 'if', 'if_rows', 'loop', 'break', 'sleep',
                          'wait_for_schedule', 'wait_for_signal', 'http', 'http_multipart', 'as_op', 'if_then_op',
                          'if_else_op', 'loop_prefix_op', 'start', 'status', 'result', 'cancel', 'await_instance',
                          'wait_for_completion', 'setvar', 'getvar', 'unsetvar', 'clearvars', 'version',
                          'grant_usage', 'revoke_usage')),
    ARRAY[
      'df."as"(text,text) | fut text, name text | text | strict',
      'df."join"(text,text) | a text, b text | text | strict',
      'df.as_op(text,text) | fut text, name text | text | called on null',
      'df.await_instance(text,integer) | instance_id text, timeout_seconds integer DEFAULT 30 | text | strict',
      'df.break(text) | value text DEFAULT NULL::text | text | called on null',
      'df.cancel(text,text) | instance_id text, reason text DEFAULT ''Cancelled by user''::text | text | strict',
      'df.clearvars() |  | text | strict',
      'df.getvar(text) | name text | text | strict',
      'df.grant_usage(text,boolean,boolean) | p_role text, include_http boolean DEFAULT false, with_grant boolean DEFAULT false | void | called on null',
      'df.http(text,text,text,jsonb,integer) | url text, method text DEFAULT ''POST''::text, body text DEFAULT NULL::text, headers jsonb DEFAULT NULL::jsonb, timeout_seconds integer DEFAULT 30 | text | called on null',
      'df.http_multipart(text,text,jsonb,jsonb,integer) | url text, method text DEFAULT ''POST''::text, parts jsonb DEFAULT NULL::jsonb, headers jsonb DEFAULT NULL::jsonb, timeout_seconds integer DEFAULT 30 | text | called on null',
      'df.if(text,text,text) | condition text, then_branch text, else_branch text | text | strict',
      'df.if_else_op(text,text) | partial_if text, else_branch text | text | called on null',
      'df.if_rows(text,text,text) | result_name text, then_branch text, else_branch text | text | strict',
      'df.if_then_op(text,text) | condition text, then_branch text | text | called on null',
      'df.join3(text,text,text) | a text, b text, c text | text | strict',
      'df.loop(text,text) | body text, condition text DEFAULT NULL::text | text | called on null',
      'df.loop_prefix_op(text) | body text | text | called on null',
      'df.race(text,text) | a text, b text | text | strict',
      'df.result(text) | instance_id text | text | strict',
      'df.revoke_usage(text) | p_role text | void | called on null',
      'df.seq(text,text) | a text, b text | text | strict',
      'df.setvar(text,text) | name text, value text | text | strict',
      'df.sleep(bigint) | seconds bigint | text | strict',
      'df.sql(text) | query text | text | strict',
      'df.start(text,text,text,text) | fut text, label text DEFAULT NULL::text, database text DEFAULT NULL::text, transaction_mode text DEFAULT ''caller''::text | text | called on null',
      'df.status(text) | instance_id text | text | strict',
      'df.unsetvar(text) | name text | text | strict',
      'df.version() |  | text | strict',
      'df.wait_for_completion(text,integer) | instance_id text, timeout_seconds integer DEFAULT 30 | text | strict',
      'df.wait_for_schedule(text) | cron_expr text | text | strict',
      'df.wait_for_signal(text,integer) | name text, timeout_seconds integer DEFAULT NULL::integer | text | called on null'],
    'the public functions have the original''s names, argument names, defaults, result types and strictness');
SELECT is((SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p
            WHERE p.pronamespace = 'df'::regnamespace AND p.provolatile = 'i'
              AND p.proname IN ('as_op', 'if_then_op', 'if_else_op', 'loop_prefix_op')),
          ARRAY['as_op', 'if_else_op', 'if_then_op', 'loop_prefix_op'],
          'the operator helpers are IMMUTABLE, as in the original');

-- SECURITY DEFINER: only the two control-plane helpers (in this migration's functions).
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY 1) FROM pg_proc p
            WHERE p.pronamespace = 'df'::regnamespace AND p.prosecdef
              AND p.proname IN ('_node_types', '_try_json', '_json_kind', '_decode_node', '_render', '_leaf',
                                '_mark_non_future', '_non_future_source', '_ensure', '_operand',
                                '_result_name_problem', '_cron_value', '_cron_problem', '_node_problem',
                                '_json_compact', '_config_with', '_new_id', '_superuser_instances_enabled',
                                '_check_submitter', '_launch', '_cancel')),
          ARRAY['df._cancel(text,text,regrole,uuid)', 'df._launch(text,jsonb)'],
          'df._launch and df._cancel are the SECURITY DEFINER helpers of the control plane');
SELECT is((SELECT count(*)::integer FROM pg_proc p
            WHERE p.pronamespace = 'df'::regnamespace AND p.prosecdef
              AND NOT ('search_path=pg_catalog, pg_temp' = ANY (coalesce(p.proconfig, '{}')))),
          0, 'every SECURITY DEFINER function in df pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT count(*)::integer FROM pg_proc p
            WHERE p.pronamespace = 'df'::regnamespace AND p.prosecdef
              AND p.proname IN ('sql', 'seq', 'as', 'join', 'join3', 'race', 'if', 'if_rows', 'loop', 'break',
                                'sleep', 'wait_for_schedule', 'wait_for_signal', 'http', 'http_multipart', 'start',
                                'status', 'result', 'cancel', 'await_instance', 'wait_for_completion', 'setvar',
                                'getvar', 'unsetvar', 'clearvars', 'version', 'grant_usage', 'revoke_usage')),
          0, 'none of the public control-plane functions is SECURITY DEFINER');

-- Execute privileges.
SELECT ok(NOT has_function_privilege('public', 'df.http(text,text,text,jsonb,integer)', 'EXECUTE'),
          'PUBLIC cannot execute df.http');
SELECT ok(NOT has_function_privilege('public', 'df.http_multipart(text,text,jsonb,jsonb,integer)', 'EXECUTE'),
          'PUBLIC cannot execute df.http_multipart');
SELECT ok(NOT has_function_privilege('public', 'df.grant_usage(text,boolean,boolean)', 'EXECUTE'),
          'PUBLIC cannot execute df.grant_usage');
SELECT ok(NOT has_function_privilege('public', 'df.revoke_usage(text)', 'EXECUTE'),
          'PUBLIC cannot execute df.revoke_usage');
SELECT is((SELECT array_agg(s ORDER BY s) FROM df._usage_functions u, LATERAL (SELECT u.signature) x(s)
            WHERE has_function_privilege('public', to_regprocedure(u.signature), 'EXECUTE')),
          NULL, 'PUBLIC cannot execute any df._* helper of the registry');
SELECT ok(NOT has_function_privilege('public', 'df._launch(text,jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'df._cancel(text,text,regrole,uuid)', 'EXECUTE'),
          'PUBLIC cannot execute df._launch or df._cancel');
SELECT ok(has_function_privilege('public', 'df.start(text,text,text,text)', 'EXECUTE')
          AND has_function_privilege('public', 'df.seq(text,text)', 'EXECUTE')
          AND has_function_privilege('public', 'df.cancel(text,text)', 'EXECUTE'),
          'ordinary df functions keep PUBLIC EXECUTE (schema USAGE is the gate)');
SELECT is((SELECT count(*)::integer FROM df._usage_functions WHERE to_regprocedure(signature) IS NULL), 0,
          'every registered helper exists');
SELECT is((SELECT count(*)::integer FROM pg_proc p
            WHERE p.pronamespace = 'df'::regnamespace AND p.proname LIKE '\_%'
              AND p.oid::regprocedure::text NOT IN (SELECT signature FROM df._usage_functions)
              AND p.proname IN ('_node_types', '_try_json', '_json_kind', '_decode_node', '_render', '_leaf',
                                '_mark_non_future', '_non_future_source', '_ensure', '_operand',
                                '_result_name_problem', '_cron_value', '_cron_problem', '_node_problem',
                                '_json_compact', '_config_with', '_new_id', '_superuser_instances_enabled',
                                '_check_submitter', '_cancel')),
          0, 'every control-plane helper is registered for df.grant_usage');

-- Operators live in pg_catalog and call the df functions.
SELECT is(
    (SELECT array_agg(o.oprname || ' ' || o.oprleft::regtype::text || ' ' || o.oprright::regtype::text || ' '
                      || o.oprcode::regproc::text ORDER BY o.oprname COLLATE "C")
       FROM pg_operator o
      WHERE o.oprnamespace = 'pg_catalog'::regnamespace
        AND o.oprname IN ('~>', '|=>', '&', '|', '?>', '!>', '@>') AND o.oprright = 'text'::regtype),
    ARRAY['!> text text df.if_else_op', '& text text df."join"', '?> text text df.if_then_op',
          '@> - text df.loop_prefix_op', '| text text df.race', '|=> text text df.as_op', '~> text text df.seq'],
    'the seven operators are in pg_catalog, on text, bound to the df functions');
SELECT is((SELECT count(*)::integer FROM pg_operator o
            WHERE o.oprname IN ('~>', '|=>', '&', '|', '?>', '!>', '@>') AND o.oprright = 'text'::regtype
              AND (o.oprcom <> 0 OR o.oprnegate <> 0 OR o.oprrest <> 0 OR o.oprjoin <> 0)),
          0, 'the operators have no commutator, negator or selectivity estimators');

-- Graph node type
SELECT has_type('df', '_node', 'the decoded-node composite df._node exists');

-- Constraint behaviour on direct inserts (as the schema owner, so RLS does not apply).
SELECT throws_ok($$INSERT INTO df.instances (id, root_node) VALUES ('ABCDEF12', 'abcdef12')$$, '23514', NULL,
                 'an instance id must be 8 lowercase hex digits');
SELECT throws_ok($$INSERT INTO df.instances (id, root_node, status) VALUES ('abcdef12', 'abcdef12', 'skipped')$$,
                 '23514', NULL, 'an instance status must be one of the five');
INSERT INTO df.instances (id, root_node) VALUES ('0a0a0a0a', '0b0b0b0b');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0b0b0b0b', '0a0a0a0a', 'THEN', NULL)$$,
                 '23514', NULL, 'a THEN node needs both children (nodes_structure_chk)');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0b0b0b0b', '0a0a0a0a', 'SQL', NULL)$$,
                 '23514', NULL, 'a SQL node needs a query (nodes_structure_chk)');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query, result_name) VALUES ('0b0b0b0b', '0a0a0a0a', 'SQL', 'SELECT 1', 'a b')$$,
                 '23514', NULL, 'a result name must be an identifier');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0b0b0b0b', '0a0a0a0a', 'FOO', 'x')$$,
                 '23514', NULL, 'a node type must be one of the twelve');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query, status, result) VALUES ('0b0b0b0b', '0a0a0a0a', 'SQL', 'x', 'running', '1')$$,
                 '23514', NULL, 'only a completed or failed node has a result');
SAVEPOINT fk;
INSERT INTO df.nodes (id, instance_id, node_type, left_node, right_node) VALUES ('0b0b0b0b', '0a0a0a0a', 'THEN', '0c0c0c0c', '0d0d0d0d');
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE',
                'dangling children are no table constraint since migration 007: df.start''s launch refuses them');
ROLLBACK TO SAVEPOINT fk;
INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0b0b0b0b', '0a0a0a0a', 'SQL', 'SELECT 1');
-- The shape checks are the trigger's since migration 016: the same errors, on insert and on an
-- update of the columns they check; an update of other columns does not fire it.
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0b0b0b0', '0a0a0a0a', 'SQL', 'x')$$,
                 '23514', 'new row for relation "nodes" violates check constraint "nodes_id_format_chk"',
                 'a node id must be 8 lowercase hex digits');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, left_node, right_node) VALUES ('0c0c0c0c', '0a0a0a0a', 'THEN', 'x', '0d0d0d0d')$$,
                 '23514', 'new row for relation "nodes" violates check constraint "nodes_left_node_format_chk"',
                 'a left child id must be 8 lowercase hex digits');
SELECT throws_ok($$INSERT INTO df.nodes (id, instance_id, node_type, left_node, right_node) VALUES ('0c0c0c0c', '0a0a0a0a', 'THEN', '0d0d0d0d', 'X')$$,
                 '23514', 'new row for relation "nodes" violates check constraint "nodes_right_node_format_chk"',
                 'a right child id must be 8 lowercase hex digits');
SELECT throws_ok($$UPDATE df.nodes SET node_type = 'FOO' WHERE instance_id = '0a0a0a0a' AND id = '0b0b0b0b'$$,
                 '23514', 'new row for relation "nodes" violates check constraint "nodes_node_type_chk"',
                 'an update to an unknown node type is refused');
SELECT throws_ok($$UPDATE df.nodes SET left_node = '0c0c0c0c' WHERE instance_id = '0a0a0a0a' AND id = '0b0b0b0b'$$,
                 '23514', 'new row for relation "nodes" violates check constraint "nodes_structure_chk"',
                 'an update that gives a SQL node a child is refused');
SELECT is((SELECT array_agg(a.attname::text ORDER BY a.attname)
             FROM pg_trigger t CROSS JOIN LATERAL unnest(t.tgattr::int2[]) AS k(num)
             JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = k.num
            WHERE t.tgrelid = 'df.nodes'::regclass AND t.tgname = 'nodes_check_shape'),
          ARRAY['id', 'left_node', 'node_type', 'query', 'result_name', 'right_node'],
          'the shape trigger fires on an update only of the columns it checks, not of a node''s status');
SAVEPOINT orphan;
SELECT lives_ok($$INSERT INTO df.nodes (id, instance_id, node_type, query) VALUES ('0c0c0c0c', '0e0e0e0e', 'SQL', 'x')$$,
                'a node''s instance is no table constraint since migration 013: df._insert_graph writes it first');
ROLLBACK TO SAVEPOINT orphan;
SELECT throws_ok($$UPDATE df.nodes SET instance_id = '0e0e0e0e' WHERE instance_id = '0a0a0a0a'$$,
                 '23503', 'a node''s instance and submitter do not change (node 0b0b0b0b of instance 0a0a0a0a)',
                 'a node does not move to another instance');
SELECT throws_ok($$UPDATE df.instances SET id = '0e0e0e0e' WHERE id = '0a0a0a0a'$$,
                 '23503', 'an instance''s id and submitter do not change (instance 0a0a0a0a)',
                 'an instance keeps its id');
SELECT lives_ok($$UPDATE df.nodes SET status = 'running', instance_id = instance_id WHERE instance_id = '0a0a0a0a'$$,
                'a node update that leaves its instance as it was is fine');
INSERT INTO df.signal_buffer (instance_id, signal_name, data) VALUES ('0a0a0a0a', 's', '1');
DELETE FROM df.instances WHERE id = '0a0a0a0a';
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = '0a0a0a0a'), 0,
          'deleting an instance deletes its nodes');
SELECT is((SELECT count(*)::integer FROM df.signal_buffer WHERE instance_id = '0a0a0a0a'), 0,
          'deleting an instance deletes its buffered signals');
SELECT throws_ok($$INSERT INTO df.vars (name, value) VALUES ('x', '1'), ('x', '2')$$, '23505', NULL,
                 'a role has one value per variable name');
INSERT INTO df.vars (name, value) VALUES ('y', '1');
SELECT is((SELECT owner::text FROM df.vars WHERE name = 'y'), current_user::text,
          'vars.owner defaults to the current role');

SELECT * FROM finish();
ROLLBACK;
