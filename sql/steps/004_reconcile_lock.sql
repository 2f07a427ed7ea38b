-- release: 0.2.0
-- Reconciliation in SQL (see io.pgdurable.reconcile.Reconciler): the statements of a pass, its
-- lock, and a whole pass in the caller's transaction.
--
-- * The lock. Passes never overlap: a pass holds a SHARE ROW EXCLUSIVE lock on the empty table
--   df_engine.reconcile_lock (NOWAIT: a pass that cannot take it is skipped). No role but the
--   owner has a privilege on that table, so no other role can take the lock, or any lock that
--   conflicts with it, and hold it to stall reconciliation. (The advisory
--   lock used before was keyed by a public name: any role could take it.) The mode takes no
--   snapshot and no transaction id, so a connection that only holds it while a batched pass runs
--   on another connection holds back neither VACUUM nor anything else.
-- * The batch statements, shared by the worker's and the CLI's batched passes (which commit
--   after each batch) and by df_engine.reconcile_pass.
-- * df_engine.reconcile_pass: a whole pass in the calling transaction, for df.reconcile(). It
--   needs no connection of its own (so no loopback connection, pg_hba entry or password), no
--   Java while it runs, and reads its settings from the server's configuration, never from the
--   calling session. It removes at most as many instances as the hard cap, so the transaction
--   stays bounded.

CREATE TABLE df_engine.reconcile_lock ();
COMMENT ON TABLE df_engine.reconcile_lock IS
    'Never has rows: a reconciliation pass holds a SHARE ROW EXCLUSIVE lock on it; only its owner may lock it';
REVOKE ALL ON df_engine.reconcile_lock FROM PUBLIC;
-- Default privileges of the installing role may have granted something on the new table.
DO $do$
DECLARE
    v_grantee oid;
BEGIN
    FOR v_grantee IN
        SELECT DISTINCT a.grantee
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'df_engine.reconcile_lock'::pg_catalog.regclass AND a.grantee <> c.relowner
    LOOP
        IF v_grantee = 0 THEN
            EXECUTE 'REVOKE ALL ON df_engine.reconcile_lock FROM PUBLIC';
        ELSE
            EXECUTE pg_catalog.format('REVOKE ALL ON df_engine.reconcile_lock FROM %I',
                                      pg_catalog.pg_get_userbyid(v_grantee));
        END IF;
    END LOOP;
END
$do$;
