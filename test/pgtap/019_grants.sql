-- df.grant_usage and df.revoke_usage: exactly the privileges of the security model, no more.
BEGIN;
SELECT plan(41);

CREATE ROLE t019_app LOGIN;
CREATE ROLE t019_app2 LOGIN;
CREATE ROLE t019_http LOGIN;
CREATE ROLE t019_admin LOGIN;
CREATE ROLE "t019 Odd" LOGIN;
SET client_min_messages = warning;

-- Before: nothing.
SELECT ok(NOT has_schema_privilege('t019_app', 'df', 'USAGE'), 'a new role has no USAGE on df');

SELECT lives_ok($$SELECT df.grant_usage('t019_app')$$, 'df.grant_usage');
SELECT ok(has_schema_privilege('t019_app', 'df', 'USAGE'), 'USAGE on schema df');
SELECT ok(NOT has_schema_privilege('t019_app', 'df', 'USAGE WITH GRANT OPTION'), '... without grant option');
SELECT ok(has_table_privilege('t019_app', 'df.instances', 'SELECT') AND has_table_privilege('t019_app', 'df.nodes', 'SELECT'),
          'SELECT on instances and nodes');
SELECT ok(NOT has_table_privilege('t019_app', 'df.instances', 'UPDATE') AND NOT has_table_privilege('t019_app', 'df.nodes', 'UPDATE')
          AND NOT has_any_column_privilege('t019_app', 'df.instances', 'UPDATE')
          AND NOT has_any_column_privilege('t019_app', 'df.nodes', 'UPDATE'),
          'no UPDATE on instances or nodes, not even on a column');
SELECT ok(NOT has_table_privilege('t019_app', 'df.instances', 'DELETE') AND NOT has_table_privilege('t019_app', 'df.nodes', 'DELETE')
          AND NOT has_table_privilege('t019_app', 'df.instances', 'TRUNCATE'),
          'no DELETE or TRUNCATE on instances or nodes');
SELECT ok(NOT has_table_privilege('t019_app', 'df.instances', 'INSERT') AND NOT has_any_column_privilege('t019_app', 'df.instances', 'INSERT')
          AND NOT has_table_privilege('t019_app', 'df.nodes', 'INSERT') AND NOT has_any_column_privilege('t019_app', 'df.nodes', 'INSERT'),
          'no INSERT on instances or nodes, not even on a column (df.start writes through df._start_instance)');
SELECT ok(has_table_privilege('t019_app', 'df.vars', 'SELECT')
          AND NOT has_table_privilege('t019_app', 'df.vars', 'INSERT')
          AND NOT has_table_privilege('t019_app', 'df.vars', 'UPDATE')
          AND NOT has_table_privilege('t019_app', 'df.vars', 'DELETE')
          AND NOT has_table_privilege('t019_app', 'df.vars', 'TRUNCATE')
          AND NOT has_any_column_privilege('t019_app', 'df.vars', 'INSERT,UPDATE'),
          'SELECT on vars, and no write privilege');
SELECT is((SELECT count(*)::integer FROM df._usage_functions
            WHERE to_regprocedure(signature) IS NOT NULL
              AND NOT has_function_privilege('t019_app', to_regprocedure(signature), 'EXECUTE')), 0,
          'EXECUTE on every registered helper');
SELECT ok(has_function_privilege('t019_app', 'df._cancel(text,text,regrole,uuid)', 'EXECUTE')
          AND NOT has_function_privilege('t019_app', 'df._launch(text,jsonb)', 'EXECUTE'),
          '... including df._cancel, but not df._launch');
SELECT ok(NOT has_function_privilege('t019_app', 'df.http(text,text,text,jsonb,integer)', 'EXECUTE')
          AND NOT has_function_privilege('t019_app', 'df.http_multipart(text,text,jsonb,jsonb,integer)', 'EXECUTE'),
          'no HTTP by default');
SELECT ok(NOT has_function_privilege('t019_app', 'df.grant_usage(text,boolean,boolean)', 'EXECUTE')
          AND NOT has_function_privilege('t019_app', 'df.revoke_usage(text)', 'EXECUTE'),
          'no privilege management');
SELECT ok(to_regprocedure('df.metrics()') IS NULL OR NOT has_function_privilege('t019_app', 'df.metrics()', 'EXECUTE'),
          'no df.metrics');
SELECT ok(NOT has_table_privilege('t019_app', 'df.workers', 'SELECT'), 'no df.workers');
SELECT ok(NOT has_table_privilege('t019_app', 'df_engine.instances', 'SELECT')
          AND NOT has_table_privilege('t019_app', 'df_engine.orchestrator_queue', 'INSERT')
          AND NOT EXISTS (SELECT 1 FROM pg_proc p
                           WHERE p.pronamespace = 'df_engine'::regnamespace
                             AND p.proname IN ('start_orchestration', 'create_instance', 'raise_event', 'cancel', 'delete_instances')
                             AND has_function_privilege('t019_app', p.oid, 'EXECUTE')),
          'nothing on the engine');

-- The role can now use the control plane.
SET ROLE t019_app;
SELECT matches(df.start('SELECT 1' ~> 'SELECT 2'), '^[0-9a-f]{8}$', 'a granted role can start instances');
SELECT throws_ok($$SELECT df.grant_usage('t019_app2')$$, '42501', NULL, '... but cannot grant usage');
RESET ROLE;

-- include_http
SELECT lives_ok($$SELECT df.grant_usage('t019_http', include_http => true)$$, 'df.grant_usage with include_http');
SELECT ok(has_function_privilege('t019_http', 'df.http(text,text,text,jsonb,integer)', 'EXECUTE')
          AND has_function_privilege('t019_http', 'df.http_multipart(text,text,jsonb,jsonb,integer)', 'EXECUTE'),
          'EXECUTE on df.http and df.http_multipart');
SELECT ok(NOT has_function_privilege('t019_http', 'df.grant_usage(text,boolean,boolean)', 'EXECUTE'), '... and no admin functions');

-- with_grant: a delegated administrator
SELECT lives_ok($$SELECT df.grant_usage('t019_admin', with_grant => true)$$, 'df.grant_usage with with_grant');
SELECT ok(has_schema_privilege('t019_admin', 'df', 'USAGE WITH GRANT OPTION')
          AND has_table_privilege('t019_admin', 'df.instances', 'SELECT WITH GRANT OPTION')
          AND has_table_privilege('t019_admin', 'df.nodes', 'SELECT WITH GRANT OPTION')
          AND has_table_privilege('t019_admin', 'df.vars', 'SELECT WITH GRANT OPTION')
          AND has_function_privilege('t019_admin', 'df._cancel(text,text,regrole,uuid)', 'EXECUTE WITH GRANT OPTION'),
          'everything with grant option');
SELECT ok(has_function_privilege('t019_admin', 'df.grant_usage(text,boolean,boolean)', 'EXECUTE')
          AND has_function_privilege('t019_admin', 'df.revoke_usage(text)', 'EXECUTE'),
          'EXECUTE on df.grant_usage and df.revoke_usage');
SELECT ok(to_regprocedure('df.metrics()') IS NULL OR has_function_privilege('t019_admin', 'df.metrics()', 'EXECUTE'),
          'EXECUTE on df.metrics');
SELECT ok(has_table_privilege('t019_admin', 'df.workers', 'SELECT'), 'SELECT on df.workers');
SELECT ok(NOT has_function_privilege('t019_admin', 'df.http(text,text,text,jsonb,integer)', 'EXECUTE'),
          'with_grant alone does not include HTTP');
SET ROLE t019_admin;
SELECT lives_ok($$SELECT df.grant_usage('t019_app2')$$, 'the administrator grants usage to another role');
RESET ROLE;
SELECT ok(has_schema_privilege('t019_app2', 'df', 'USAGE') AND has_function_privilege('t019_app2', 'df._cancel(text,text,regrole,uuid)', 'EXECUTE'),
          '... which then has usage');
SET ROLE t019_admin;
SELECT lives_ok($$SELECT df.revoke_usage('t019_app2')$$, 'the administrator revokes what it granted');
RESET ROLE;
SELECT ok(NOT has_schema_privilege('t019_app2', 'df', 'USAGE'), '... and the role has no usage left');

-- revoke_usage
SELECT lives_ok($$SELECT df.revoke_usage('t019_app')$$, 'df.revoke_usage');
SELECT ok(NOT has_schema_privilege('t019_app', 'df', 'USAGE')
          AND NOT has_table_privilege('t019_app', 'df.instances', 'SELECT')
          AND NOT has_any_column_privilege('t019_app', 'df.instances', 'INSERT')
          AND NOT has_any_column_privilege('t019_app', 'df.nodes', 'INSERT')
          AND NOT has_table_privilege('t019_app', 'df.nodes', 'SELECT')
          AND NOT has_any_column_privilege('t019_app', 'df.vars', 'SELECT,INSERT,UPDATE'),
          'no schema or table privileges remain');
SELECT is((SELECT count(*)::integer FROM df._usage_functions
            WHERE to_regprocedure(signature) IS NOT NULL
              AND has_function_privilege('t019_app', to_regprocedure(signature), 'EXECUTE')), 0,
          'no helper EXECUTE remains');
SET ROLE t019_app;
SELECT throws_ok($$SELECT df.start('SELECT 1')$$, '42501', NULL, 'a revoked role cannot start instances');
RESET ROLE;
SELECT lives_ok($$SELECT df.revoke_usage('t019_http')$$, 'revoking from a role granted HTTP');
SELECT ok(NOT has_function_privilege('t019_http', 'df.http(text,text,text,jsonb,integer)', 'EXECUTE'), '... removes HTTP too');

-- Names that need quoting; bad arguments.
SELECT lives_ok($$SELECT df.grant_usage('t019 Odd')$$, 'a role name that needs quoting');
SELECT ok(has_schema_privilege('t019 Odd', 'df', 'USAGE'), '... gets usage');
SELECT throws_ok($$SELECT df.grant_usage(NULL)$$, '22004', 'df.grant_usage(): p_role must not be NULL', 'a NULL role');
SELECT throws_ok($$SELECT df.grant_usage('t019_no_such_role')$$, '42704', NULL, 'an unknown role');

SELECT * FROM finish();
ROLLBACK;
