-- Per-role workflow variables: df.setvar, df.getvar, df.unsetvar, df.clearvars.
BEGIN;
SELECT plan(24);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't018_user') THEN CREATE ROLE t018_user LOGIN; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't018_other') THEN CREATE ROLE t018_other LOGIN; END IF;
END $$;
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage('t018_user'); PERFORM df.grant_usage('t018_other'); END $$;
RESET client_min_messages;

SET ROLE t018_user;
SELECT is(df.setvar('region', 'eu'), 'OK', 'df.setvar returns OK');
SELECT is(df.getvar('region'), 'eu', 'df.getvar reads it back');
SELECT is(df.setvar('region', 'us'), 'OK', 'setting it again');
SELECT is(df.getvar('region'), 'us', '... replaces the value');
SELECT is((SELECT count(*)::integer FROM df.vars WHERE name = 'region'), 1, '... in one row');
SELECT is(df.getvar('missing'), NULL, 'an unknown variable is NULL');
SELECT is(df.setvar('not an identifier!', 'x'), 'OK', 'names are not checked');
SELECT is(df.setvar('empty', ''), 'OK', 'an empty value is a value');
SELECT is(df.getvar('empty'), '', '... and reads back as empty');
SELECT is(df.setvar('n', NULL), NULL, 'df.setvar with a NULL value is NULL (STRICT)');
SELECT is(df.getvar('n'), NULL, '... and stores nothing');
SELECT ok(df.getvar(NULL) IS NULL AND df.unsetvar(NULL) IS NULL AND df.setvar(NULL, 'x') IS NULL,
          'NULL names give NULL');
SELECT is((SELECT owner::text FROM df.vars WHERE name = 'region'), 't018_user', 'a variable belongs to the role that set it');
RESET ROLE;

SET ROLE t018_other;
SELECT is(df.getvar('region'), NULL, 'another role does not see it');
SELECT is(df.setvar('region', 'apac'), 'OK', 'another role sets its own variable of the same name');
SELECT is(df.clearvars(), 'OK', 'df.clearvars returns OK');
RESET ROLE;

SET ROLE t018_user;
SELECT is(df.getvar('region'), 'us', 'and neither setting nor clearing it touches the first role''s');
SELECT is(df.unsetvar('region'), 'OK', 'df.unsetvar returns OK');
SELECT is(df.getvar('region'), NULL, '... and removes the variable');
SELECT is(df.unsetvar('region'), 'OK', 'unsetting a missing variable is fine');

-- Inside a workflow step, variables are read-only.
SET df.in_workflow = 'true';
SELECT throws_ok($$SELECT df.setvar('a', 'b')$$, '0A000',
                 'df.setvar() cannot be called inside a workflow - set variables before starting the workflow',
                 'df.setvar inside a workflow');
SELECT throws_ok($$SELECT df.unsetvar('a')$$, '0A000',
                 'df.unsetvar() cannot be called inside a workflow - manage variables before starting the workflow',
                 'df.unsetvar inside a workflow');
SELECT throws_ok($$SELECT df.clearvars()$$, '0A000',
                 'df.clearvars() cannot be called inside a workflow - manage variables before starting the workflow',
                 'df.clearvars inside a workflow');
SELECT is(df.getvar('empty'), '', 'df.getvar works inside a workflow');
RESET df.in_workflow;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
