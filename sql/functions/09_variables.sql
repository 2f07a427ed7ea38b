-- Raises unless the caller has shown that it acts as p_role (df.setvar and friends pass
-- current_user and its key; see df._acts_as).
CREATE OR REPLACE FUNCTION df._check_vars_role(p_role regrole, p_key uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT df._acts_as(p_role, p_key) THEN
        RAISE EXCEPTION 'the caller (session user "%") may not manage the variables of role %', session_user,
            coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION df._check_vars_role(regrole, uuid) FROM PUBLIC;
-- Limits on the last unbounded inputs: workflow variables and the text of a graph's steps.
--
-- Both are copied into every instance a role starts (the variables as its snapshot, the steps as
-- its nodes) and read by the worker for every turn, so each is bounded, with an error that names
-- the value and the limit, before anything is written. Like the limits of 009 they are fixed.

CREATE OR REPLACE FUNCTION df._setvar(p_role regrole, p_key uuid, p_name text, p_value text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_total bigint;
BEGIN
    PERFORM df._check_vars_role(p_role, p_key);
    IF length(p_name) > 500 THEN
        RAISE EXCEPTION 'df.setvar(): variable name is % characters long; the limit is 500 characters',
            length(p_name) USING ERRCODE = '54000', DETAIL = format('The name begins: %s', left(p_name, 80));
    END IF;
    IF octet_length(p_value) > 1048576 THEN
        RAISE EXCEPTION 'df.setvar(): the value of variable "%" is % bytes; the limit is 1048576 bytes (1 MiB)',
            p_name, octet_length(p_value) USING ERRCODE = '54000';
    END IF;
    INSERT INTO df.vars AS v (name, value, owner) VALUES (p_name, p_value, p_role)
    ON CONFLICT ON CONSTRAINT vars_pkey DO UPDATE SET value = excluded.value;
    -- Every df.start copies all of the role's variables into the new instance.
    SELECT sum(octet_length(v.name) + coalesce(octet_length(v.value), 0)) INTO v_total
      FROM df.vars v WHERE v.owner = p_role;
    IF v_total > 1048576 THEN
        RAISE EXCEPTION 'df.setvar(): with variable "%" the variables of role % would take % bytes; the limit for all of a role''s variables together is 1048576 bytes (1 MiB)',
            p_name, p_role, v_total USING ERRCODE = '54000',
            HINT = 'Remove variables you no longer need with df.unsetvar() or df.clearvars().';
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION df._getvar(p_role regrole, p_key uuid, p_name text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT v.value FROM df.vars v
     WHERE v.owner = p_role AND v.name = p_name
       AND df._acts_as(p_role, p_key)
$fn$;

CREATE OR REPLACE FUNCTION df._unsetvar(p_role regrole, p_key uuid, p_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM df._check_vars_role(p_role, p_key);
    DELETE FROM df.vars v WHERE v.owner = p_role AND v.name = p_name;
END
$fn$;

CREATE OR REPLACE FUNCTION df._clearvars(p_role regrole, p_key uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM df._check_vars_role(p_role, p_key);
    DELETE FROM df.vars v WHERE v.owner = p_role;
END
$fn$;

CREATE OR REPLACE FUNCTION df.setvar(name text, value text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.setvar() cannot be called inside a workflow - set variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._setvar(quote_ident(current_user)::regrole, df._caller_key(), $1, $2);
    PERFORM df._mark_non_future('df.setvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE OR REPLACE FUNCTION df.getvar(name text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df._getvar(quote_ident(current_user)::regrole, df._caller_key(), $1)
$fn$;

CREATE OR REPLACE FUNCTION df.unsetvar(name text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.unsetvar() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._unsetvar(quote_ident(current_user)::regrole, df._caller_key(), $1);
    PERFORM df._mark_non_future('df.unsetvar', 'OK');
    RETURN 'OK';
END
$fn$;

CREATE OR REPLACE FUNCTION df.clearvars() RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.clearvars() cannot be called inside a workflow - manage variables before starting the workflow'
            USING ERRCODE = '0A000';
    END IF;
    PERFORM df._clearvars(quote_ident(current_user)::regrole, df._caller_key());
    PERFORM df._mark_non_future('df.clearvars', 'OK');
    RETURN 'OK';
END
$fn$;

-- The release this schema belongs to; a release changes it (CONTRIBUTING.md), and a pgTAP test
-- checks it against the build's version.
CREATE OR REPLACE FUNCTION df.version() RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT '0.2.0'
$fn$;
