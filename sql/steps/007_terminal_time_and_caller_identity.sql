-- release: 0.2.0
-- df.instances.completed_at now means what it means in the original: the time an instance
-- completed, NULL for a failed or cancelled one. Reconciliation still needs the time every
-- terminal status was reached, so that is a column of its own, terminal_at, which the worker
-- and df.cancel set with the terminal status; expired instances are aged by
-- coalesce(terminal_at, created_at).
ALTER TABLE df.instances ADD COLUMN terminal_at timestamptz;

UPDATE df.instances
   SET terminal_at = completed_at,
       completed_at = CASE WHEN status = 'completed' THEN completed_at END
 WHERE status IN ('completed', 'failed', 'cancelled');

DROP INDEX IF EXISTS df.idx_instances_terminal_age;
CREATE INDEX idx_instances_terminal_age ON df.instances ((coalesce(terminal_at, created_at)), id)
    WHERE status IN ('completed', 'failed', 'cancelled');

COMMENT ON COLUMN df.instances.completed_at IS
    'When the instance completed; NULL while it runs and when it failed or was cancelled';
COMMENT ON COLUMN df.instances.terminal_at IS
    'When the instance reached its terminal status (completed, failed or cancelled); reconciliation ages instances by coalesce(terminal_at, created_at)';
