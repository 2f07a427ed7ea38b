-- The df functions act for current_user: called from a SECURITY DEFINER function owned by bob,
-- they act as bob, whoever calls the wrapper (PostgreSQL's meaning of SECURITY DEFINER). The
-- isolation between roles is unchanged: alice still cannot touch bob's instances directly, and
-- bob's wrapper cannot touch carol's.
BEGIN;
SELECT plan(28);

CREATE ROLE t037_alice LOGIN;
CREATE ROLE t037_bob LOGIN;
CREATE ROLE t037_carol LOGIN;
SET client_min_messages = warning;
DO $$ BEGIN
    PERFORM df.grant_usage(r) FROM unnest(ARRAY['t037_alice', 't037_bob', 't037_carol']) r;
END $$ LANGUAGE plpgsql;
RESET client_min_messages;
CREATE SCHEMA t037 AUTHORIZATION t037_bob;

-- Carol's and bob's own instances.
SET SESSION AUTHORIZATION t037_carol;
SELECT df.start('SELECT 1', 'carol-job') AS c \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION t037_bob;
SELECT df.start('SELECT 1', 'bob-job') AS b \gset

-- Bob's wrappers, which he lets alice call.
CREATE FUNCTION t037.start(p_query text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT df.start(p_query, 'via-wrapper') $$;
CREATE FUNCTION t037.signal(p_id text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT df.signal(p_id, 'go', '{"via": "wrapper"}') $$;
CREATE FUNCTION t037.cancel(p_id text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT df.cancel(p_id, 'via wrapper') $$;
CREATE FUNCTION t037.list() RETURNS TABLE (instance_id text, function_name text, status text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT l.instance_id, l.function_name, l.status FROM df.list_instances(NULL, 100, NULL) l $$;
CREATE FUNCTION t037.info(p_id text) RETURNS TABLE (instance_id text, function_name text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT i.instance_id, i.function_name FROM df.instance_info(p_id) i $$;
CREATE FUNCTION t037.executions(p_id text) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT count(*) FROM df.instance_executions(p_id) $$;
CREATE FUNCTION t037.setvar(p_name text, p_value text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT df.setvar(p_name, p_value) $$;
CREATE FUNCTION t037.getvar(p_name text) RETURNS text
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT df.getvar(p_name) $$;
GRANT USAGE ON SCHEMA t037 TO t037_alice;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t037 TO t037_alice;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------------------------------
-- Alice, through bob's wrappers, acts as bob
-- ---------------------------------------------------------------------------------------------
SET SESSION AUTHORIZATION t037_alice;
SELECT t037.start('SELECT 2') AS x \gset
SELECT is(ARRAY(SELECT l.instance_id FROM t037.list() l ORDER BY 1), ARRAY(SELECT unnest(ARRAY[:'b', :'x']) ORDER BY 1),
          'the wrapper lists bob''s instances, the one it started among them');
SELECT is(ARRAY(SELECT DISTINCT l.function_name FROM t037.list() l), ARRAY['df.function_graph'],
          '... with their engine columns (the engine helper accepts bob''s key)');
SELECT is((SELECT i.function_name FROM t037.info(:'b') i), 'df.function_graph',
          'instance_info through the wrapper shows bob''s instance with its engine columns');
SELECT is(t037.executions(:'b'), 1::bigint, 'instance_executions through the wrapper counts its generation');
SELECT is(t037.signal(:'b'), 'OK', 'the wrapper signals bob''s instance');
SELECT is(t037.cancel(:'x'), format('Instance %s cancelled: via wrapper', :'x'), 'the wrapper cancels bob''s instance');
SELECT is(t037.setvar('from_wrapper', 'yes'), 'OK', 'the wrapper sets a variable');
SELECT is(t037.getvar('from_wrapper'), 'yes', '... and reads it back');
SELECT is(df.getvar('from_wrapper'), NULL, '... which is bob''s, not alice''s');
SELECT is((SELECT array_agg(k.role::text) FROM df._own_role_key k), ARRAY['t037_alice'],
          'alice reads her own key only, never bob''s');
SELECT throws_ok('SELECT count(*) FROM df.role_keys', '42501', 'permission denied for table role_keys',
          '... and never the table of keys itself');

-- Bob's wrapper cannot touch carol's instances.
SELECT throws_ok(format('SELECT t037.signal(%L)', :'c'), '42704', format('Instance not found or access denied: %s', :'c'),
                 'bob''s wrapper cannot signal carol''s instance');
SELECT throws_ok(format('SELECT t037.cancel(%L)', :'c'), '42704', format('Instance not found or access denied: %s', :'c'),
                 'bob''s wrapper cannot cancel carol''s instance');
SELECT is((SELECT count(*) FROM t037.info(:'c')), 0::bigint, 'bob''s wrapper sees nothing of carol''s instance');
SELECT ok(NOT (:'c' = ANY (ARRAY(SELECT l.instance_id FROM t037.list() l))), '... nor lists it');

-- Directly, alice is alice: bob's instances are not hers.
SELECT throws_ok(format('SELECT df.cancel(%L)', :'b'), '42704', format('Instance not found or access denied: %s', :'b'),
                 'alice cannot cancel bob''s instance directly');
SELECT throws_ok(format('SELECT df.signal(%L, %L)', :'b', 'go'), '42704', format('Instance not found or access denied: %s', :'b'),
                 'alice cannot signal bob''s instance directly');
SELECT is((SELECT count(*) FROM df.list_instances() l WHERE l.instance_id IN (:'b', :'x')), 0::bigint,
          'alice does not list bob''s instances');
SELECT throws_ok(format('SELECT df._cancel(%L, %L, %L, gen_random_uuid())', :'b', 'forged', 't037_bob'), '42704',
                 format('Instance not found or access denied: %s', :'b'),
                 'nor through the helper, claiming to be bob with a guessed key');
SELECT throws_ok(format('SELECT df._signal(%L, %L, %L, %L, NULL)', :'b', 'go', '{}', 't037_bob'), '42704',
                 format('Instance not found or access denied: %s', :'b'),
                 'nor signal through the helper, claiming to be bob without a key');
SELECT is((SELECT count(*) FROM df._engine_info(ARRAY[:'b'], 't037_bob', gen_random_uuid())), 0::bigint,
          'the engine helper shows nothing of bob''s for a guessed key');
SELECT throws_ok($$SELECT df._start_instance('t037_bob', gen_random_uuid(), NULL, NULL, '{00a03701}', '{SQL}',
                                             '{"SELECT 1"}', '{NULL}', '{NULL}', '{NULL}')$$, '42501',
                 'df.start(): the caller (session user "t037_alice") has not shown that it acts as role t037_bob; call df.start() as that role',
                 'nor can she start an instance as bob through the helper');
SELECT throws_ok($$SELECT df._setvar('t037_bob', gen_random_uuid(), 'forged', 'x')$$, '42501',
                 'the caller (session user "t037_alice") may not manage the variables of role t037_bob',
                 'nor set bob''s variables through the helper');
RESET SESSION AUTHORIZATION;

-- What the wrapper did, as the superuser sees it.
SELECT is((SELECT submitted_by::text || ' ' || label FROM df.instances WHERE id = :'x'), 't037_bob via-wrapper',
          'the wrapper''s instance is bob''s');
SELECT is((SELECT status FROM df.instances WHERE id = :'x'), 'cancelled', '... and cancelled');
SELECT is((SELECT data::text FROM df.signal_buffer WHERE instance_id = :'b'), '{"via": "wrapper"}',
          'the signal to bob''s instance is buffered');
SELECT is((SELECT count(*)::integer FROM df.signal_buffer WHERE instance_id = :'c'), 0,
          'nothing reached carol''s instance');
SELECT is((SELECT owner::text FROM df.vars WHERE name = 'from_wrapper'), 't037_bob', 'the variable is bob''s');

SELECT * FROM finish();
ROLLBACK;
