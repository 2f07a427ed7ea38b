-- The length of an instance's history as it is now, not as the calling statement's snapshot saw
-- it. A worker locks instances and reads their history length in one statement; in READ
-- COMMITTED that statement's snapshot is taken before its locks, so when another worker's turn
-- on the same instance commits in between, a length read in the statement itself comes out
-- short and the next turn's history rows collide with that turn's. A query inside a VOLATILE
-- PL/pgSQL function takes a snapshot of its own when it runs, after the row lock is granted, and
-- no other turn can append while the lock is held. (PL/pgSQL, so the planner cannot inline it.)

CREATE FUNCTION df_engine.history_length(p_instance_id text, p_execution_id integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RETURN (SELECT coalesce(max(h.seq), 0) FROM df_engine.history h
             WHERE h.instance_id = p_instance_id AND h.execution_id = p_execution_id);
END
$fn$;
REVOKE ALL ON FUNCTION df_engine.history_length(text, integer) FROM PUBLIC;
