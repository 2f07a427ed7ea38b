-- ---------------------------------------------------------------------------------------------
-- df.start(..., transaction_mode => 'new'): the start commits on a session of its own.
--
-- df.start checks the graph in the caller's session, then calls df._start_new_transaction,
-- which opens a dblink connection back to this database, switches that session to the calling
-- role and runs the ordinary df.start there, which commits on its own. The instance therefore
-- survives a rollback of the caller's transaction, is submitted by the calling role (RLS, fair
-- share and the step connections key on submitted_by), and that session sees only committed
-- rows: variables set in the caller's open transaction are not captured.
--
-- Where it connects comes only from the server: the first Unix socket directory
-- (unix_socket_directories) or, with no socket, pg_durable.loopback_host from the configuration
-- files; the port (port); this database; the owner of this function (the installing superuser)
-- as the user, authenticated by pg_hba.conf (peer or trust on the socket, or a password from the
-- server OS user's ~/.pgpass). Only a superuser's session may switch to another role (SET
-- SESSION AUTHORIZATION), which is why the connection logs in as the owner. Nothing of it comes
-- from the calling session, and the connection is always closed before the function returns.
--
-- dblink is optional: the extension's schema does not require it, and this function finds it at
-- the call and explains what to install when it is missing.
-- ---------------------------------------------------------------------------------------------

-- Quotes a value for a libpq connection string: in single quotes, with backslashes and single
-- quotes escaped by a backslash (chr(92), so that no setting changes how this file is read).
CREATE OR REPLACE FUNCTION df._conninfo_value(p_value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT '''' || replace(replace(p_value, chr(92), chr(92) || chr(92)), '''', chr(92) || '''') || ''''
$fn$;

CREATE OR REPLACE FUNCTION df._start_new_transaction(p_role regrole, p_key uuid, p_fut text, p_label text, p_database text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET standard_conforming_strings = on
AS $fn$
DECLARE
    c_conn       constant text := 'pg_durable_start_new_transaction';
    -- The started session's own bound: without it, a caller holding a lock that session needs
    -- would wait for it forever while it waits for the caller, a cycle no deadlock check sees.
    c_statement_timeout constant text := '30s';
    c_connect_timeout   constant integer := 10;
    v_db         text := current_database();
    v_owner      pg_roles%ROWTYPE;
    v_caller     pg_roles%ROWTYPE;
    v_ext_schema oid;
    v_create     text;
    v_schema     text;
    v_controller oid;
    v_controller_name text;
    v_max        integer;
    v_timeout    integer;
    v_socket     text;
    v_host       text;
    v_port       text := current_setting('port');
    v_conninfo   text;
    v_deadline   timestamptz;
    v_slot       text;
    v_connected  boolean := false;
    v_id         text;
    v_message    text;
    v_detail     text;
BEGIN
    IF current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' cannot be used inside a workflow: a step''s df.start() already commits with the step; leave transaction_mode at ''caller'''
            USING ERRCODE = '0A000';
    END IF;
    -- The caller acts as p_role: df.start passes current_user and its key (df._acts_as), so a
    -- SECURITY DEFINER wrapper starts as its owner, as with 'caller'.
    IF NOT df._acts_as(p_role, p_key) THEN
        RAISE EXCEPTION 'df.start(): the caller (session user "%") has not shown that it acts as role %; call df.start() as that role',
            session_user, coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
    SELECT * INTO v_caller FROM pg_roles r WHERE r.oid = p_role::oid;
    SELECT * INTO v_owner FROM pg_roles r WHERE r.rolname = current_user;

    -- dblink, from a schema that only superusers control: this function runs as a superuser and
    -- calls dblink's functions by name, so whoever could rename that schema or replace what is
    -- in it could make it call their own code.
    SELECT e.extnamespace INTO v_ext_schema FROM pg_extension e WHERE e.extname = 'dblink';
    IF NOT FOUND THEN
        -- Where a non-superuser owns the database, it controls schema public: name a schema.
        v_create := CASE WHEN (SELECT r.rolsuper FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                                WHERE d.datname = v_db)
                         THEN 'CREATE EXTENSION dblink;'
                         ELSE 'CREATE SCHEMA dblink; CREATE EXTENSION dblink SCHEMA dblink;' END;
        IF EXISTS (SELECT 1 FROM pg_available_extensions a WHERE a.name = 'dblink') THEN
            RAISE EXCEPTION 'df.start(): transaction_mode ''new'' needs the dblink extension, which is not created in database "%"', v_db
                USING ERRCODE = '55000',
                      HINT = format('A superuser runs, in database "%s": %s', v_db, v_create);
        END IF;
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' needs the dblink extension, which is not installed on this server'
            USING ERRCODE = '55000',
                  HINT = format('Install PostgreSQL''s contrib modules for this server (they hold dblink; Debian''s postgresql-15 package includes them, RPM-based systems have postgresql15-contrib), then a superuser runs, in database "%s": %s', v_db, v_create);
    END IF;
    SELECT n.nspname,
           CASE WHEN n.nspowner = (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'pg_database_owner')
                THEN d.datdba ELSE n.nspowner END
      INTO v_schema, v_controller
      FROM pg_namespace n, pg_database d
     WHERE n.oid = v_ext_schema AND d.datname = v_db;
    IF NOT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = v_controller), false) THEN
        v_controller_name := coalesce(pg_get_userbyid(v_controller), v_controller::text);
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' will not use dblink from schema "%": it is controlled by role "%", which is not a superuser and could replace what is called there',
            v_schema, v_controller_name
            USING ERRCODE = '55000',
                  HINT = format('A superuser moves dblink into a schema only superusers control, in database "%s": CREATE SCHEMA dblink; ALTER EXTENSION dblink SET SCHEMA dblink;', v_db);
    END IF;
    IF to_regprocedure(format('%I.dblink_connect_u(text,text)', v_schema)) IS NULL
       OR to_regprocedure(format('%I.dblink_exec(text,text)', v_schema)) IS NULL
       OR to_regprocedure(format('%I.dblink(text,text)', v_schema)) IS NULL
       OR to_regprocedure(format('%I.dblink_disconnect(text)', v_schema)) IS NULL THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' did not find dblink''s functions in schema "%"', v_schema
            USING ERRCODE = '55000',
                  HINT = format('A superuser re-creates the extension, in database "%s": DROP EXTENSION dblink; CREATE EXTENSION dblink;', v_db);
    END IF;
    IF NOT v_owner.rolsuper THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' needs the owner of df._start_new_transaction, role "%", to be a superuser: only a superuser''s session may act as the calling role',
            v_owner.rolname USING ERRCODE = '42501';
    END IF;

    -- The limit and the wait, from the server's configuration only (as df.reconcile() reads its
    -- settings): a session cannot raise the number of backends this superuser path may open.
    v_max := df_engine.reconcile_parse_setting('pg_durable.max_new_transaction_starts',
                 df_engine.reconcile_setting('pg_durable.max_new_transaction_starts'), 2, 100, 'concurrent starts');
    v_timeout := df_engine.reconcile_parse_setting('pg_durable.new_transaction_start_timeout',
                 df_engine.reconcile_setting('pg_durable.new_transaction_start_timeout'), 5, 60, 'seconds');
    IF v_max = 0 THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' is turned off on this server: pg_durable.max_new_transaction_starts is 0'
            USING ERRCODE = '55000';
    END IF;
    -- The slot is a row lock, which a read-only transaction cannot take.
    IF current_setting('transaction_read_only') = 'on' THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' cannot be used in a read-only transaction'
            USING ERRCODE = '25006';
    END IF;

    -- Where to connect: the server's own settings (PGC_POSTMASTER, no session can change them).
    v_socket := btrim(split_part(current_setting('unix_socket_directories'), ',', 1), E' \t"');
    IF v_socket <> '' THEN
        v_host := v_socket;
    ELSE
        SELECT btrim(f.setting) INTO v_host FROM pg_file_settings f
         WHERE lower(f.name) = 'pg_durable.loopback_host' AND f.applied
         ORDER BY f.seqno DESC LIMIT 1;
        v_host := coalesce(nullif(v_host, ''), '127.0.0.1');
        IF v_host !~ '^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$' THEN
            RAISE EXCEPTION 'pg_durable.loopback_host must be an IP address or a DNS host name, got ''%''', v_host
                USING ERRCODE = '22023';
        END IF;
    END IF;
    v_conninfo := format('host=%s port=%s dbname=%s user=%s connect_timeout=%s application_name=%s options=%s',
                         df._conninfo_value(v_host), df._conninfo_value(v_port), df._conninfo_value(v_db),
                         df._conninfo_value(v_owner.rolname), c_connect_timeout,
                         df._conninfo_value('pg_durable df.start new transaction'),
                         df._conninfo_value(format('-c search_path=pg_catalog,pg_temp -c statement_timeout=%s -c lock_timeout=%s',
                                                   c_statement_timeout, c_statement_timeout)));

    -- One slot of the limit: an owner-only row of df_engine.locks, locked in this block's
    -- subtransaction, which the block always rolls back, so the slot is free again when the
    -- function returns, not when the caller's transaction ends.
    v_deadline := clock_timestamp() + make_interval(secs => v_timeout);
    BEGIN
        LOOP
            SELECT l.name INTO v_slot FROM df_engine.locks l
             WHERE l.name IN (SELECT 'new_transaction_start:' || g FROM generate_series(1, v_max) g)
             ORDER BY l.name
             FOR UPDATE SKIP LOCKED
             LIMIT 1;
            EXIT WHEN FOUND;
            IF clock_timestamp() >= v_deadline THEN
                RAISE EXCEPTION 'df.start(): transaction_mode ''new'' is at its limit of % concurrent starts (pg_durable.max_new_transaction_starts); none ended within % s (pg_durable.new_transaction_start_timeout)',
                    v_max, v_timeout USING ERRCODE = '53300';
            END IF;
            PERFORM pg_sleep(0.02);
        END LOOP;

        BEGIN
            EXECUTE format('SELECT %I.dblink_connect_u($1, $2)', v_schema) USING c_conn, v_conninfo;
        EXCEPTION WHEN sqlclient_unable_to_establish_sqlconnection THEN
            GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'df.start(): transaction_mode ''new'' could not connect to this server as role "%" (database "%", %, port %): %',
                v_owner.rolname, v_db, CASE WHEN v_socket <> '' THEN 'socket directory ' || v_host ELSE 'host ' || v_host END,
                v_port, rtrim(coalesce(nullif(v_detail, ''), v_message), E' \n')
                USING ERRCODE = '08001',
                      HINT = format('pg_hba.conf must let role %I into database %I %s without a password prompt: %s, or a password for it in the server OS user''s ~/.pgpass (operator guide, section 1.11).',
                                    v_owner.rolname, v_db,
                                    CASE WHEN v_socket <> '' THEN 'over the Unix socket' ELSE 'from ' || v_host END,
                                    CASE WHEN v_socket <> ''
                                         THEN format('a line "local %s %s peer" (when the server runs as OS user %s) or "trust"',
                                                     quote_ident(v_db), quote_ident(v_owner.rolname), quote_ident(v_owner.rolname))
                                         ELSE format('a line "host %s %s %s/32 trust"', quote_ident(v_db),
                                                     quote_ident(v_owner.rolname), v_host) END);
        END;
        v_connected := true;
        -- The session acts as the calling role from here: df.start records it as submitted_by
        -- and checks what it may do, as it does in the caller's own session.
        EXECUTE format('SELECT %I.dblink_exec($1, $2)', v_schema)
            USING c_conn, format('SET SESSION AUTHORIZATION %I', v_caller.rolname)
                          || CASE WHEN df._superuser_instances_enabled()
                                  THEN '; SET pg_durable.enable_superuser_instances = on' ELSE '' END;
        EXECUTE format('SELECT t.id FROM %I.dblink($1, $2) AS t(id text)', v_schema)
            INTO v_id
            USING c_conn, format('SELECT df.start(%s, %s, %s, %L)', quote_nullable(p_fut), quote_nullable(p_label),
                                 quote_nullable(p_database), 'caller');
        EXECUTE format('SELECT %I.dblink_disconnect($1)', v_schema) USING c_conn;
        v_connected := false;
        RAISE EXCEPTION USING ERRCODE = 'PGD01', MESSAGE = 'releases the slot';
    EXCEPTION
        WHEN SQLSTATE 'PGD01' THEN
            NULL;
        WHEN OTHERS OR query_canceled THEN
            IF v_connected THEN
                -- Best effort: the error that brought us here is the one to report, and a
                -- connection that cannot even be closed cleanly is gone already.
                BEGIN
                    EXECUTE format('SELECT %I.dblink_disconnect($1)', v_schema) USING c_conn;
                EXCEPTION WHEN OTHERS THEN
                    NULL;
                END;
            END IF;
            RAISE;
    END;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION df._start_new_transaction(regrole, uuid, text, text, text) IS
    'df.start(..., transaction_mode => ''new''): starts the instance on a dblink session of its own, as the calling role, and returns its id.';
