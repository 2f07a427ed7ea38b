-- The DSL operators: what each builds, and how PostgreSQL really groups them. All user-defined
-- operators share one precedence and associate left to right; there is no precedence ladder.
BEGIN;
SELECT plan(30);

SELECT is('SELECT 1' ~> 'SELECT 2' |=> 'x',
          '{"node_type":"THEN","left_node":{"node_type":"SQL","query":"SELECT 1"},"right_node":{"node_type":"SQL","query":"SELECT 2"},"result_name":"x"}',
          'the original''s example, byte for byte');
SELECT is('a' ~> 'b', df.seq('a', 'b'), '~> is df.seq');
SELECT is('a' |=> 'n', df.as('a', 'n'), '|=> is df.as');
SELECT is('a' & 'b', df.join('a', 'b'), '& is df.join');
SELECT is('a' | 'b', df.race('a', 'b'), '| is df.race');
SELECT is('c' ?> 't' !> 'e', df.if('c', 't', 'e'), '?> !> is df.if');
SELECT is(@> 'a', df.loop('a'), 'prefix @> is df.loop');
SELECT is('SELECT true' ?> 'SELECT 1', '{"condition": "SELECT true", "_partial_if": true, "then_branch": "SELECT 1"}',
          '?> alone gives the partial if, operands kept as text');

-- Left-to-right grouping
SELECT is('a' ~> 'b' |=> 'n', df.as(df.seq('a', 'b'), 'n'), 'a ~> b |=> n names the whole sequence');
SELECT isnt('a' ~> 'b' |=> 'n', 'a' ~> ('b' |=> 'n'), '... which is not the same as naming only b');
SELECT is('a' ~> 'b' ~> 'c', df.seq(df.seq('a', 'b'), 'c'), 'a ~> b ~> c is (a ~> b) ~> c');
SELECT is('a' & 'b' | 'c', df.race(df.join('a', 'b'), 'c'), 'a & b | c is (a & b) | c');
SELECT is('a' | 'b' & 'c', df.join(df.race('a', 'b'), 'c'), 'a | b & c is (a | b) & c: & does not bind tighter');
SELECT is('a' ~> 'b' & 'c', df.join(df.seq('a', 'b'), 'c'), 'a ~> b & c is (a ~> b) & c');
SELECT is('a' & 'b' ~> 'c', df.seq(df.join('a', 'b'), 'c'), 'a & b ~> c is (a & b) ~> c');
SELECT is(@> 'a' ~> 'b', df.seq(df.loop('a'), 'b'), '@> a ~> b loops only a');
SELECT is(@> ('a' ~> 'b'), df.loop(df.seq('a', 'b')), '@> (a ~> b) loops the sequence');
SELECT is('c' ?> ('t' ~> 'u') !> 'e', df.if('c', df.seq('t', 'u'), 'e'), 'a parenthesised then-branch works');
SELECT throws_ok($$SELECT 'c' ?> 't' ~> 'u' !> 'e'$$, '22023',
                 'Invalid if-then-else: left side of !> must be a ?> expression',
                 'c ?> t ~> u !> e groups as ((c ?> t) ~> u) !> e and fails');
SELECT is('a' || 'b' ~> 'c', df.seq('ab', 'c'), '|| shares the precedence too: (a || b) ~> c');
SELECT is(('a' ~> 'b' |=> 'r') & ('c' |=> 's') ~> 'd',
          df.seq(df.join(df.as(df.seq('a', 'b'), 'r'), df.as('c', 's')), 'd'),
          'a parenthesised parallel pipeline');

-- Errors and NULLs
SELECT throws_ok($$SELECT 'x' !> 'e'$$, '22P02', NULL, 'the left side of !> must be JSON');
SELECT throws_ok($$SELECT '{"a": 1}' !> 'e'$$, '22023', 'Invalid if-then-else: left side of !> must be a ?> expression',
                 'the left side of !> must be a partial if');
SELECT ok(('a' ~> NULL) IS NULL AND (NULL |=> 'x') IS NULL AND ('a' & NULL) IS NULL, 'a NULL operand gives NULL');

-- The operators leave PostgreSQL's own operators alone.
SELECT ok(ARRAY[1, 2] @> ARRAY[1] AND '{"a": 1}'::jsonb @> '{}' AND (6 | 3) = 7 AND (6 & 3) = 2,
          'array and jsonb @>, integer | and & still work');

-- Every role resolves them, whatever its search_path.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't012_user') THEN CREATE ROLE t012_user LOGIN; END IF;
END $$;
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage('t012_user'); END $$;
RESET client_min_messages;
SET ROLE t012_user;
SET search_path = public;
SELECT is('a' ~> 'b' |=> 'n', df.as(df.seq('a', 'b'), 'n'), 'operators resolve with search_path = public');
SET search_path = '';
DO $$ BEGIN
    PERFORM pg_catalog.set_config('t012.seq', 'a' ~> 'b', false);
    PERFORM pg_catalog.set_config('t012.if', 'c' ?> 't' !> 'e', false);
    PERFORM pg_catalog.set_config('t012.loop', @> 'a', false);
END $$;
RESET search_path;
SELECT is(current_setting('t012.seq'), df.seq('a', 'b'), 'operators resolve with an empty search_path');
SELECT is(current_setting('t012.if'), df.if('c', 't', 'e'), 'the if operators resolve with an empty search_path');
SELECT is(current_setting('t012.loop'), df.loop('a'), 'prefix @> resolves with an empty search_path');
RESET ROLE;
SELECT is((SELECT count(*)::integer FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
            WHERE o.oprname = '~>' AND n.nspname <> 'pg_catalog'), 0, 'there is no other ~> operator to shadow it');

SELECT * FROM finish();
ROLLBACK;
