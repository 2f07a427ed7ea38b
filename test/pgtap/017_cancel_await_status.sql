-- df.cancel, df.status, df.result, df.await_instance and df.wait_for_completion.
BEGIN;
SELECT plan(40);

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 't017_user') THEN CREATE ROLE t017_user LOGIN; END IF;
END $$;
SET client_min_messages = warning;
DO $$ BEGIN PERFORM df.grant_usage('t017_user'); END $$;
RESET client_min_messages;

SET ROLE t017_user;
SELECT df.start('SELECT 1' ~> df.sleep(600), 'to cancel') AS x \gset
SELECT df.start('SELECT 42 AS answer', 'to finish') AS done \gset
SELECT df.start('SELECT 1', 'to fail') AS bad \gset
SELECT df.start('SELECT 1', 'engine record lost') AS lost \gset
RESET ROLE;
-- A running child orchestration of the first instance, as a JOIN branch would be.
INSERT INTO df_engine.instances (id, name, status, parent_id, parent_execution_id, parent_task_id)
VALUES (:'x' || '::1::0000c017', 'df.branch', 'Running', :'x', 1, 3);
INSERT INTO df_engine.activity_queue (instance_id, execution_id, task_id, name) VALUES (:'x' || '::1::0000c017', 1, 1, 'sql');
SET ROLE t017_user;

-- ---------------------------------------------------------------------------------------------
-- Status
-- ---------------------------------------------------------------------------------------------
SELECT is(df.status(:'x'), 'pending', 'a new instance is pending');
SELECT is(df.status('ffffffff'), NULL, 'df.status of an unknown id is NULL');
SELECT is(df.status('to cancel'), NULL, 'a label is not an id');
SELECT is(df.status(NULL), NULL, 'df.status(NULL) is NULL');

-- ---------------------------------------------------------------------------------------------
-- Cancel
-- ---------------------------------------------------------------------------------------------
SELECT is(df.cancel(:'x'), format('Instance %s cancelled: Cancelled by user', :'x'), 'df.cancel reports the cancellation');
SELECT is(df.status(:'x'), 'cancelled', 'the instance is cancelled at once');
SELECT ok((SELECT completed_at IS NULL AND terminal_at IS NOT NULL AND updated_at = terminal_at
             FROM df.instances WHERE id = :'x'),
          'completed_at stays NULL, as in the original; terminal_at (and updated_at) are set');
RESET ROLE;
SELECT is((SELECT status || ' ' || output FROM df_engine.instances WHERE id = :'x'), 'Cancelled "Cancelled by user"',
          'the engine instance is cancelled, with the reason');
SELECT is((SELECT status FROM df_engine.executions WHERE instance_id = :'x'), 'Cancelled', 'so is its execution');
SELECT is((SELECT count(*)::integer FROM df_engine.orchestrator_queue WHERE instance_id = :'x'), 0,
          'its queued start message is gone');
SELECT is((SELECT status FROM df_engine.instances WHERE id = :'x' || '::1::0000c017'), 'Cancelled',
          'a running child orchestration is cancelled too');
SELECT is((SELECT count(*)::integer FROM df_engine.activity_queue WHERE instance_id = :'x' || '::1::0000c017'), 0,
          '... and its pending step is dropped');
SELECT is((SELECT count(*)::integer FROM df.nodes WHERE instance_id = :'x' AND status = 'pending'), 3,
          'node rows are not touched');
UPDATE df.instances SET terminal_at = '2001-02-03 04:05:06+00' WHERE id = :'x';
SET ROLE t017_user;
SELECT is(df.cancel(:'x', 'again'), format('Instance %s cancelled: again', :'x'), 'cancelling again reports it again');
SELECT is((SELECT terminal_at FROM df.instances WHERE id = :'x'), '2001-02-03 04:05:06+00'::timestamptz,
          '... and changes nothing');
SELECT is(df.cancel(:'x', NULL), NULL, 'df.cancel with a NULL reason is NULL (STRICT)');
SELECT is(df.cancel(NULL), NULL, 'df.cancel(NULL) is NULL');
SELECT throws_ok($$SELECT df.cancel('ffffffff')$$, '42704', 'Instance not found or access denied: ffffffff',
                 'an unknown instance');

-- A terminal instance stays as it is.
RESET ROLE;
UPDATE df.instances SET status = 'completed', completed_at = '2001-01-01 00:00:00+00' WHERE id = :'done';
UPDATE df.nodes SET status = 'completed', result = '{"rows":[{"answer":42}],"row_count":1}'
 WHERE instance_id = :'done';
UPDATE df_engine.instances SET status = 'Completed', completed_at = now(), output = '{"rows":[{"answer":42}],"row_count":1}'
 WHERE id = :'done';
DELETE FROM df_engine.orchestrator_queue WHERE instance_id = :'done';
SET ROLE t017_user;
SELECT is(df.cancel(:'done', 'too late'), format('Instance %s cancelled: too late', :'done'),
          'cancelling a completed instance still answers');
SELECT is(df.status(:'done'), 'completed', '... but it stays completed');
SELECT is((SELECT completed_at FROM df.instances WHERE id = :'done'), '2001-01-01 00:00:00+00'::timestamptz,
          '... with its completion time');
RESET ROLE;
SELECT is((SELECT status FROM df_engine.instances WHERE id = :'done'), 'Completed', '... in the engine too');

-- An instance whose engine record is gone can still be cancelled.
DELETE FROM df_engine.instances WHERE id = :'lost';
SET ROLE t017_user;
SELECT is(df.cancel(:'lost'), format('Instance %s cancelled: Cancelled by user', :'lost'),
          'cancelling an instance without an engine record');
SELECT is(df.status(:'lost'), 'cancelled', '... marks it cancelled');

-- ---------------------------------------------------------------------------------------------
-- Result
-- ---------------------------------------------------------------------------------------------
SELECT is(df.result(:'done'), '{"rows": [{"answer": 42}], "row_count": 1}',
          'df.result is the completed root node''s result, as jsonb text');
SELECT is(df.result(:'x'), NULL, 'no result for a cancelled instance');
RESET ROLE;
UPDATE df.instances SET status = 'failed', completed_at = now() WHERE id = :'bad';
UPDATE df.nodes SET status = 'failed', result = '"SQL execution failed: boom"' WHERE instance_id = :'bad';
SET ROLE t017_user;
SELECT is(df.result(:'bad'), NULL, 'no result for a failed instance');
SELECT is(df.result('ffffffff'), NULL, 'no result for an unknown instance');

-- ---------------------------------------------------------------------------------------------
-- Await
-- ---------------------------------------------------------------------------------------------
SELECT is(df.await_instance(:'x'), 'cancelled', 'df.await_instance returns the terminal status');
SELECT is(df.await_instance(:'done', 5), 'completed', '... completed');
SELECT is(df.await_instance(:'bad', 1), 'failed', '... failed');
SET client_min_messages = error;
SELECT is(df.wait_for_completion(:'done'), 'completed', 'the deprecated df.wait_for_completion does the same');
RESET client_min_messages;
SELECT throws_ok($$SELECT df.await_instance('ffffffff')$$, '42704', 'Instance not found: ffffffff', 'an unknown instance');
SELECT throws_ok(format('SELECT df.await_instance(%L, 0)', :'x'), '22023', 'Timeout must be positive', 'a zero timeout');
SELECT throws_ok(format('SELECT df.await_instance(%L, -1)', :'x'), '22023', 'Timeout must be positive', 'a negative timeout');
SELECT df.start('SELECT 1') AS waiting \gset
SELECT throws_ok(format('SELECT df.await_instance(%L, 1)', :'waiting'), 'P0001',
                 format('Timeout after 1s waiting for instance %s (status: pending). Check if background worker is running.', :'waiting'),
                 'a timeout names the instance and its status');
SELECT set_config('t017.waiting', :'waiting', false) AS ignored \gset
DO $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    BEGIN
        PERFORM df.await_instance(current_setting('t017.waiting'), 1);
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    PERFORM set_config('t017.waited', extract(epoch FROM clock_timestamp() - t0)::text, false);
END $$;
SELECT ok(current_setting('t017.waited')::numeric BETWEEN 0.95 AND 3, 'it polls until the timeout, then stops');
SET df.in_workflow = 'true';
SELECT throws_ok(format('SELECT df.await_instance(%L)', :'done'), '0A000',
                 'df.await_instance() cannot be called inside a workflow - it would block a worker thread (and self-deadlock if waiting on the current instance). Use df.signal() and df.wait_for_signal() for cross-workflow coordination.',
                 'df.await_instance refuses to run inside a workflow step');
RESET df.in_workflow;
SELECT throws_ok(format($$SELECT df.seq(df.await_instance(%L), 'SELECT 1')$$, :'done'), '22023',
                 'df.await_instance cannot be used as a workflow step. Call df.await_instance before df.start().',
                 'the status df.await_instance returns is not a workflow step');
SELECT is(df.await_instance(NULL), NULL, 'df.await_instance(NULL) is NULL');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
