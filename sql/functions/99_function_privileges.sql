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
GRANT EXECUTE ON FUNCTION df._start_instance(regrole, text, text, text[], text[], text[], text[], text[], text[]) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._setvar(regrole, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._getvar(regrole, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._unsetvar(regrole, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._clearvars(regrole) TO PUBLIC;
GRANT EXECUTE ON FUNCTION df._signal(text, text, jsonb) TO PUBLIC;
