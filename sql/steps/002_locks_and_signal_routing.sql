-- release: 0.2.0
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
-- Rows: 'run_worker' (one df.run_worker() per database). Add a row for a new lock in the
-- migration that needs it. Reconciliation holds a table lock on df_engine.reconcile_lock instead
-- (013), because a batched pass spans several transactions.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE df_engine.locks (
    name text PRIMARY KEY
);
REVOKE ALL ON df_engine.locks FROM PUBLIC;
INSERT INTO df_engine.locks (name) VALUES ('run_worker');

COMMENT ON TABLE df_engine.locks IS
    'Owner-only named locks: SELECT 1 FROM df_engine.locks WHERE name = ... FOR UPDATE SKIP LOCKED holds one until the transaction ends. No privileges for anyone but the owner.';

-- df._launch is now called only by df._start_instance, as its owner.
DELETE FROM df._usage_functions WHERE signature = 'df._launch(text,jsonb)';

-- Existing installs: take back every table write privilege on the control plane's tables, and
-- EXECUTE on df._launch, from every role that holds them (with CASCADE, so that what delegated
-- administrators passed on goes too; REVOKE by the owner or a superuser acts for the owner).
DO $do$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT c.oid::regclass AS tbl, a.grantee
          FROM pg_class c
         CROSS JOIN LATERAL (
               SELECT x.grantee, x.privilege_type FROM aclexplode(c.relacl) x
               UNION ALL
               SELECT x.grantee, x.privilege_type
                 FROM pg_attribute att, aclexplode(att.attacl) x
                WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL) a
         WHERE c.oid IN ('df.instances'::regclass, 'df.nodes'::regclass, 'df.vars'::regclass)
           AND a.grantee <> c.relowner
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON %s FROM %s CASCADE',
                       r.tbl, CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
    END LOOP;
    FOR r IN
        SELECT DISTINCT a.grantee
          FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = to_regprocedure('df._launch(text,jsonb)') AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION df._launch(text, jsonb) FROM %s CASCADE',
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.grantee::regrole::text) END);
    END LOOP;
    -- Every grant descends from the owner's, so nothing may be left.
    IF EXISTS (SELECT 1
                 FROM pg_class c
                CROSS JOIN LATERAL (
                      SELECT x.grantee, x.privilege_type FROM aclexplode(c.relacl) x
                      UNION ALL
                      SELECT x.grantee, x.privilege_type
                        FROM pg_attribute att, aclexplode(att.attacl) x
                       WHERE att.attrelid = c.oid AND att.attacl IS NOT NULL) a
                WHERE c.oid IN ('df.instances'::regclass, 'df.nodes'::regclass, 'df.vars'::regclass)
                  AND a.grantee <> c.relowner
                  AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER')) THEN
        RAISE EXCEPTION 'could not revoke every write privilege on df.instances, df.nodes and df.vars; revoke them by hand and run the upgrade again';
    END IF;
END
$do$;

-- ---------------------------------------------------------------------------------------------
-- Signal delivery without locks a worker needs.
--
-- df.signal used to lock the instance row (FOR UPDATE) to hand a signal to a wait, and held the
-- lock until its caller committed; a worker's turn that touched the instance (which batches
-- turns of many instances in one transaction) waited for it, and so did every instance in the
-- batch. Now df.signal only inserts: the signal goes into df.signal_buffer marked
-- needs_routing, and the worker matches it to a wait (df._route_signals, run by the worker's
-- signal router after the sender commits) under the instance row lock, which only the worker's
-- own short transactions take. A wait that starts still takes the oldest buffered signal
-- itself. The buffer no longer references df.instances: a foreign key check would take a KEY
-- SHARE lock on the instance row until the sender commits, which blocks deleting the instance.
-- ---------------------------------------------------------------------------------------------

ALTER TABLE df.signal_buffer DROP CONSTRAINT signal_buffer_instance_id_fkey;
ALTER TABLE df.signal_buffer ADD COLUMN needs_routing boolean NOT NULL DEFAULT false;
CREATE INDEX signal_buffer_needs_routing_idx ON df.signal_buffer (instance_id) WHERE needs_routing;
