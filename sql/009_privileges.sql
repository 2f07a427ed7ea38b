-- Privileges, locks and input limits.

-- ---------------------------------------------------------------------------------------------
-- Owner-only named locks.
--
-- An advisory lock key is a number anyone can compute, and any role may take any advisory lock:
-- a role with no df rights at all could hold the key of an exclusive job and stop it. A row of
-- this table can be locked only by a role with UPDATE on it, and nobody but the table's owner
-- (the installing role) has any privilege on it. To hold a named lock for the rest of the
-- current transaction, without waiting:
--
--     SELECT 1 FROM df_engine.locks WHERE name = 'run_worker' FOR UPDATE SKIP LOCKED;
--
-- No row back means another transaction holds it (FOR UPDATE NOWAIT raises 55P03 instead).
-- The lock is released when the transaction ends; there is no session-level form.
-- Rows: 'run_worker' (one df.run_worker() per database), 'reconcile' (one reconciliation pass
-- at a time). Add a row for a new lock in the migration that needs it.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE df_engine.locks (
    name text PRIMARY KEY
);
REVOKE ALL ON df_engine.locks FROM PUBLIC;
INSERT INTO df_engine.locks (name) VALUES ('run_worker'), ('reconcile');

COMMENT ON TABLE df_engine.locks IS
    'Owner-only named locks: SELECT 1 FROM df_engine.locks WHERE name = ... FOR UPDATE SKIP LOCKED holds one until the transaction ends. No privileges for anyone but the owner.';
