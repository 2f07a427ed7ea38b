-- ---------------------------------------------------------------------------------------------
-- The caller's role, shown to SECURITY DEFINER helpers
-- ---------------------------------------------------------------------------------------------
-- The df functions act for current_user, like the original's: inside a SECURITY DEFINER function
-- owned by bob, that is bob (PostgreSQL's meaning of SECURITY DEFINER: bob's function, bob's
-- rights). The df functions run as their caller, but the SECURITY DEFINER helpers they call only
-- see their own owner as current_user. So the df function passes current_user and that role's key
-- from df.role_keys, which only that role can read (through df._own_role_key); df._acts_as checks the
-- pair. A role the session's login role is a member of is accepted without a key, as before.

-- The calling role's own key, and no other: current_user in a view is the role that reads it
-- (a view does not change it), while the table is read with the view owner's rights. A
-- security barrier, so that no function in the reader's query sees the rows it filters out.
CREATE OR REPLACE VIEW df._own_role_key WITH (security_barrier = true) AS
    SELECT k.role, k.key FROM df.role_keys k
     WHERE k.role OPERATOR(pg_catalog.=) pg_catalog.quote_ident(current_user)::regrole;
REVOKE ALL ON df._own_role_key FROM PUBLIC;
GRANT SELECT ON df._own_role_key TO PUBLIC;

-- Creates a role's key if it has none. Anyone may: only the role can read it. It never waits for
-- another transaction that is creating the same key (that one holds the advisory lock until it
-- ends): the caller then goes without a key this once, rather than block behind, say, a long
-- transaction of the same role that made its first df call.
CREATE OR REPLACE FUNCTION df._issue_role_key(p_role regrole) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_role IS NOT NULL AND pg_catalog.pg_try_advisory_xact_lock(1684435563, p_role::oid::integer) THEN
        INSERT INTO df.role_keys (role) VALUES (p_role) ON CONFLICT DO NOTHING;
    END IF;
END
$$;

-- The key of the current role, created on first use; NULL in a read-only transaction that has
-- none yet (the helpers then accept the role only if the login role is a member of it).
CREATE OR REPLACE FUNCTION df._caller_key() RETURNS uuid
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role regrole := quote_ident(current_user)::regrole;
    v_key  uuid;
BEGIN
    SELECT k.key INTO v_key FROM df._own_role_key k;
    IF NOT FOUND AND current_setting('transaction_read_only') = 'off' THEN
        PERFORM df._issue_role_key(v_role);
        SELECT k.key INTO v_key FROM df._own_role_key k;
    END IF;
    RETURN v_key;
END
$$;

-- Whether the caller of a SECURITY DEFINER helper has shown that it acts as p_role: with the
-- role's key, or because the session's login role is a member of p_role. For the helpers only.
CREATE OR REPLACE FUNCTION df._acts_as(p_role regrole, p_key uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL so that its plan is cached: a SQL function with a SET clause is planned per call.
    RETURN p_role IS NOT NULL
       AND (coalesce(pg_catalog.pg_has_role(session_user, p_role::oid, 'MEMBER'), false)
            OR EXISTS (SELECT 1 FROM df.role_keys k WHERE k.role = p_role AND k.key = p_key));
END
$$;
