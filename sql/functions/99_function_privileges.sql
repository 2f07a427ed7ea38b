-- No df._* function is executable by PUBLIC: df.grant_usage() grants the ones listed in
-- df._usage_functions to the roles it is given, and the few below are granted to PUBLIC because
-- they check for themselves that the caller may act.
DO $do$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_proc p
         WHERE p.pronamespace = 'df'::regnamespace AND p.proname LIKE '\_%'
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_fn);
    END LOOP;
END
$do$;

-- The public functions run as their caller and call these; each checks for itself that the
-- session may act for the role it is asked to act for (schema USAGE on df is the gate).
GRANT EXECUTE ON FUNCTION df._start_graph(regrole, uuid, text, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._start_instance(regrole, uuid, text, text, text[], text[], text[], text[], text[], text[]) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._setvar(regrole, uuid, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._getvar(regrole, uuid, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._unsetvar(regrole, uuid, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._clearvars(regrole, uuid) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._signal(text, text, jsonb, regrole, uuid) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._start_new_transaction(regrole, uuid, text, text, text) TO PUBLIC;
-- The caller's own key, and a key for any role (which only that role can read).
GRANT EXECUTE ON FUNCTION df._caller_key() TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._issue_role_key(regrole) TO PUBLIC;
-- Returns only the configuration files' pg_durable.list_instances_max_limit, which
-- df._list_instances_max_limit() reads as its caller.
GRANT EXECUTE ON FUNCTION df._list_instances_max_limit_file() TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._role_setting(text) TO PUBLIC;

-- Roles that were given usage before a release added a helper to df._usage_functions get it now:
-- every role df.grant_usage() gave read access to df.instances gets EXECUTE on every listed
-- helper. (df.revoke_usage() takes both away, so the read grant marks the roles with usage.)
DO $do$
DECLARE
    v_role name;
    v_fn   regprocedure;
BEGIN
    FOR v_role IN
        SELECT DISTINCT r.rolname
          FROM pg_class c
         CROSS JOIN LATERAL aclexplode(c.relacl) a
          JOIN pg_roles r ON r.oid = a.grantee
         WHERE c.oid = 'df.instances'::regclass AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
    LOOP
        FOR v_fn IN
            SELECT to_regprocedure(u.signature) FROM df._usage_functions u
             WHERE to_regprocedure(u.signature) IS NOT NULL ORDER BY u.signature
        LOOP
            IF NOT has_function_privilege(v_role, v_fn, 'EXECUTE') THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, v_role);
            END IF;
        END LOOP;
    END LOOP;
END
$do$;
