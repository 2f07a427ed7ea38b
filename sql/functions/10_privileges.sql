-- df.grant_usage grants no table write privilege any more; df.revoke_usage revokes what it grants.
CREATE OR REPLACE FUNCTION df.grant_usage(p_role text, include_http boolean DEFAULT false, with_grant boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_opt text := CASE WHEN with_grant THEN ' WITH GRANT OPTION' ELSE '' END;
    v_fn  regprocedure;
BEGIN
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'df.grant_usage(): p_role must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- format('%I', 'public') is the bare keyword PUBLIC: every role, present and future. The
    -- original's documents write 'PUBLIC'; without a role of that name it means the same.
    IF p_role = 'public' OR (lower(p_role) = 'public' AND pg_catalog.to_regrole(pg_catalog.quote_ident(p_role)) IS NULL) THEN
        RAISE EXCEPTION 'df.grant_usage(): p_role must name a role, got ''%'' (PUBLIC, every role); grant df usage to a group role instead', p_role
            USING ERRCODE = '22023';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA df TO %I', p_role) || v_opt;
    IF include_http THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.http(text, text, text, jsonb, integer) TO %I', p_role) || v_opt;
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.http_multipart(text, text, jsonb, jsonb, integer) TO %I', p_role) || v_opt;
    END IF;
    IF with_grant THEN
        -- A pg_durable administrator: may grant and revoke usage, and see cluster-wide figures.
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.grant_usage(text, boolean, boolean) TO %I', p_role) || v_opt;
        EXECUTE format('GRANT EXECUTE ON FUNCTION df.revoke_usage(text) TO %I', p_role) || v_opt;
        IF to_regprocedure('df.metrics()') IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION df.metrics() TO %I', p_role) || v_opt;
        END IF;
        EXECUTE format('GRANT SELECT ON df.workers TO %I', p_role) || v_opt;
        EXECUTE format('GRANT SELECT ON df._usage_functions TO %I', p_role) || v_opt;
    END IF;
    -- Reading only, under row-level security; every write goes through df's functions.
    EXECUTE format('GRANT SELECT ON df.instances TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT ON df.nodes TO %I', p_role) || v_opt;
    EXECUTE format('GRANT SELECT ON df.vars TO %I', p_role) || v_opt;
    FOR v_fn IN
        SELECT to_regprocedure(u.signature) FROM df._usage_functions u
         WHERE to_regprocedure(u.signature) IS NOT NULL ORDER BY u.signature
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, p_role) || v_opt;
    END LOOP;
    RAISE NOTICE 'pg_durable: granted df usage privileges to "%"', p_role;
END
$fn$;
REVOKE EXECUTE ON FUNCTION df.grant_usage(text, boolean, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df.revoke_usage(p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_fn regprocedure;
BEGIN
    IF p_role IS NULL THEN
        RAISE EXCEPTION 'df.revoke_usage(): p_role must not be NULL' USING ERRCODE = '22004';
    END IF;
    -- format('%I', 'public') is the bare keyword PUBLIC: every role, present and future. The
    -- original's documents write 'PUBLIC'; without a role of that name it means the same.
    IF p_role = 'public' OR (lower(p_role) = 'public' AND pg_catalog.to_regrole(pg_catalog.quote_ident(p_role)) IS NULL) THEN
        RAISE EXCEPTION 'df.revoke_usage(): p_role must name a role, got ''%'' (PUBLIC, every role); df never grants to PUBLIC, so there is nothing to revoke: revoke usage from the roles you granted it to', p_role
            USING ERRCODE = '22023';
    END IF;
    -- Functions a delegated administrator may hold no grant option on are skipped.
    FOR v_fn IN
        SELECT f.fn FROM (
            SELECT to_regprocedure(s) AS fn, s
              FROM unnest(ARRAY['df.http(text,text,text,jsonb,integer)', 'df.metrics()',
                                'df.http_multipart(text,text,jsonb,jsonb,integer)',
                                'df.grant_usage(text,boolean,boolean)', 'df.revoke_usage(text)']) s
            UNION ALL
            SELECT to_regprocedure(u.signature), u.signature FROM df._usage_functions u) f
         WHERE f.fn IS NOT NULL
    LOOP
        BEGIN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM %I CASCADE', v_fn, p_role);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END LOOP;
    BEGIN
        EXECUTE format('REVOKE SELECT ON df.workers FROM %I CASCADE', p_role);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    BEGIN
        EXECUTE format('REVOKE SELECT ON df._usage_functions FROM %I CASCADE', p_role);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    EXECUTE format('REVOKE SELECT ON df.vars FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.nodes FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE SELECT ON df.instances FROM %I CASCADE', p_role);
    EXECUTE format('REVOKE USAGE ON SCHEMA df FROM %I CASCADE', p_role);
    RAISE NOTICE 'pg_durable: revoked df usage privileges granted by "%" from "%"', current_user, p_role;
END
$fn$;
REVOKE EXECUTE ON FUNCTION df.revoke_usage(text) FROM PUBLIC;
