-- release: 0.2.0
-- df.instances.completed_at now means what it means in the original: the time an instance
-- completed, NULL for a failed or cancelled one. Reconciliation still needs the time every
-- terminal status was reached, so that is a column of its own, terminal_at, which the worker
-- and df.cancel set with the terminal status; expired instances are aged by
-- coalesce(terminal_at, created_at).
ALTER TABLE df.instances ADD COLUMN terminal_at timestamptz;

-- Instances that ended before the upgrade keep their rows as they were (a failed or cancelled
-- one keeps the completed_at it got then); their terminal time is that completed_at.
UPDATE df.instances
   SET terminal_at = completed_at
 WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at IS NOT NULL;

DROP INDEX IF EXISTS df.idx_instances_terminal_age;
CREATE INDEX idx_instances_terminal_age ON df.instances ((coalesce(terminal_at, created_at)), id)
    WHERE status IN ('completed', 'failed', 'cancelled');

COMMENT ON COLUMN df.instances.completed_at IS
    'When the instance completed; NULL while it runs and when it failed or was cancelled';
COMMENT ON COLUMN df.instances.terminal_at IS
    'When the instance reached its terminal status (completed, failed or cancelled); reconciliation ages instances by coalesce(terminal_at, created_at)';

-- The df functions act for current_user, as the original's do: called from a SECURITY DEFINER
-- function owned by bob they act as bob. Their SECURITY DEFINER helpers cannot see the caller's
-- current_user (inside them it is their owner's), so the caller shows it: it passes its role and
-- that role's key, which only the role itself can read (row-level security on current_user).
-- A helper also accepts a role the session's login role is a member of, as before.
CREATE TABLE df.role_keys (
    role regrole PRIMARY KEY,
    key  uuid NOT NULL DEFAULT gen_random_uuid()
);
ALTER TABLE df.role_keys ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON df.role_keys FROM PUBLIC;
COMMENT ON TABLE df.role_keys IS
    'One random key per role, readable only by that role: a df function passes its caller''s key to the SECURITY DEFINER helper it calls, to show that it acts as that role';

-- The helpers take the caller's role and key now; the function files create the new ones.
DROP FUNCTION IF EXISTS df._start_instance(regrole, text, text, text[], text[], text[], text[], text[], text[]);
DROP FUNCTION IF EXISTS df._cancel(text, text);
DROP FUNCTION IF EXISTS df._signal(text, text, jsonb);
DROP FUNCTION IF EXISTS df._engine_info(text[]);
DROP FUNCTION IF EXISTS df._engine_executions(text, integer);
DROP FUNCTION IF EXISTS df._setvar(regrole, text, text);
DROP FUNCTION IF EXISTS df._getvar(regrole, text);
DROP FUNCTION IF EXISTS df._unsetvar(regrole, text);
DROP FUNCTION IF EXISTS df._clearvars(regrole);
DROP FUNCTION IF EXISTS df._check_vars_role(regrole);
DELETE FROM df._usage_functions
 WHERE signature IN ('df._cancel(text,text)', 'df._engine_info(text[])', 'df._engine_executions(text,integer)');
INSERT INTO df._usage_functions (signature) VALUES
    ('df._cancel(text,text,regrole,uuid)'),
    ('df._engine_info(text[],regrole,uuid)'),
    ('df._engine_executions(text,integer,regrole,uuid)')
ON CONFLICT DO NOTHING;
