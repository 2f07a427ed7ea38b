-- ---------------------------------------------------------------------------------------------
-- Builders (pure: they read no table)
-- ---------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION df.sql(query text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN df._render(df._leaf('SQL', query));
END
$fn$;

CREATE OR REPLACE FUNCTION df.seq(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._built(df._render(ROW('THEN', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df."as"(fut text, name text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_problem text := df._result_name_problem(name);
    v_node df._node;
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'df.as: %', v_problem USING ERRCODE = '22023';
    END IF;
    v_node := df._ensure(fut);
    v_node.result_name := name;
    RETURN df._built(df._render(v_node));
END
$fn$;

CREATE OR REPLACE FUNCTION df."join"(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._built(df._render(ROW('JOIN', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df.join3(a text, b text, c text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
    v_extra text := df._operand(c);
BEGIN
    RETURN df._built(df._render(ROW('JOIN', v_left, v_right, NULL, ARRAY[v_extra], NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df.race(a text, b text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_left text := df._operand(a);
    v_right text := df._operand(b);
BEGIN
    RETURN df._built(df._render(ROW('RACE', v_left, v_right, NULL, '{}', NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df."if"(condition text, then_branch text, else_branch text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_condition text := df._operand($1);
    v_then text := df._operand($2);
    v_else text := df._operand($3);
BEGIN
    RETURN df._built(df._render(ROW('IF', v_then, v_else, v_condition, '{}', NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df.if_rows(result_name text, then_branch text, else_branch text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_then text := df._operand($2);
    v_else text := df._operand($3);
BEGIN
    RETURN df._built(df._render(ROW('IF', v_then, v_else, NULL, '{}',
        '{"condition_type":"result_has_rows","result_name":' || to_json($1)::text || '}',
        NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df."loop"(body text, condition text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_body text;
    v_condition text;
BEGIN
    IF $1 IS NULL THEN
        RAISE EXCEPTION 'df.loop(): body must not be NULL' USING ERRCODE = '22004';
    END IF;
    v_body := df._operand($1);
    IF $2 IS NOT NULL THEN
        v_condition := df._operand($2);
    END IF;
    RETURN df._built(df._render(ROW('LOOP', v_body, NULL, v_condition, '{}', NULL, NULL, NULL)::df._node));
END
$fn$;

CREATE OR REPLACE FUNCTION df."break"(value text DEFAULT NULL) RETURNS text
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT df._render(df._leaf('BREAK', '{"break_value":' || coalesce(to_json($1)::text, 'null') || '}'))
$fn$;

CREATE OR REPLACE FUNCTION df.sleep(seconds bigint) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF seconds < 0 THEN
        RAISE EXCEPTION 'Sleep duration must be non-negative' USING ERRCODE = '22023';
    END IF;
    IF seconds > 999999999 THEN
        RAISE EXCEPTION 'df.sleep(): seconds must be at most 999999999 (about 31 years), got %', seconds
            USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SLEEP', seconds::text));
END
$fn$;

CREATE OR REPLACE FUNCTION df.wait_for_schedule(cron_expr text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_problem text := df._cron_problem(cron_expr);
BEGIN
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION 'Invalid cron expression ''%'': %', cron_expr, v_problem USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('WAIT_SCHEDULE', '{"cron_expr":' || to_json(cron_expr)::text || '}'));
END
$fn$;

CREATE OR REPLACE FUNCTION df.wait_for_signal(name text, timeout_seconds integer DEFAULT NULL) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'df.wait_for_signal(): name must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF name = '' THEN
        RAISE EXCEPTION 'Signal name cannot be empty' USING ERRCODE = '22023';
    END IF;
    IF length(name) > 500 THEN
        RAISE EXCEPTION 'df.wait_for_signal(): signal name is % characters long; the limit is 500 characters', length(name)
            USING ERRCODE = '54000';
    END IF;
    IF timeout_seconds <= 0 THEN
        RAISE EXCEPTION 'Timeout must be positive' USING ERRCODE = '22023';
    END IF;
    IF timeout_seconds > 999999999 THEN
        RAISE EXCEPTION 'df.wait_for_signal(): timeout_seconds must be at most 999999999 (about 31 years), got %', timeout_seconds
            USING ERRCODE = '22023';
    END IF;
    RETURN df._render(df._leaf('SIGNAL', '{"signal_name":' || to_json(name)::text
        || ',"timeout_seconds":' || coalesce(timeout_seconds::text, 'null') || '}'));
END
$fn$;

-- HTTP steps. EXECUTE is revoked from PUBLIC: df.grant_usage(role, include_http => true)
-- grants it, and df.start refuses HTTP nodes of a role without it (df._check_http_grant), so a
-- graph written by hand cannot get around the grant. The config is rendered as the original
-- does: compact JSON, keys in alphabetical order.
CREATE OR REPLACE FUNCTION df.http(url text, method text DEFAULT 'POST', body text DEFAULT NULL,
                        headers jsonb DEFAULT NULL, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_config  json;
    v_problem text;
BEGIN
    IF url IS NULL THEN
        RAISE EXCEPTION 'df.http(): url must not be NULL' USING ERRCODE = '22004';
    ELSIF method IS NULL THEN
        RAISE EXCEPTION 'df.http(): method must not be NULL' USING ERRCODE = '22004';
    ELSIF timeout_seconds IS NULL THEN
        RAISE EXCEPTION 'df.http(): timeout_seconds must not be NULL' USING ERRCODE = '22004';
    END IF;
    v_config := json_build_object('body', body, 'headers', headers, 'method', upper(method),
                                  'timeout_seconds', timeout_seconds, 'url', url);
    v_problem := df._http_problem('HTTP', v_config);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(headers) = 'object' THEN
        v_config := json_build_object('body', body,
                                      'headers', (SELECT coalesce(json_object_agg(h.key, h.value ORDER BY h.key), '{}')
                                                    FROM jsonb_each(headers) h),
                                      'method', upper(method), 'timeout_seconds', timeout_seconds, 'url', url);
    END IF;
    RETURN df._render(df._leaf('HTTP', df._json_compact(v_config)));
END
$fn$;
REVOKE EXECUTE ON FUNCTION df.http(text, text, text, jsonb, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION df.http_multipart(url text, method text DEFAULT 'POST', parts jsonb DEFAULT NULL,
                                  headers jsonb DEFAULT NULL, timeout_seconds integer DEFAULT 30) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_config  json;
    v_problem text;
BEGIN
    IF url IS NULL THEN
        RAISE EXCEPTION 'df.http_multipart(): url must not be NULL' USING ERRCODE = '22004';
    ELSIF method IS NULL THEN
        RAISE EXCEPTION 'df.http_multipart(): method must not be NULL' USING ERRCODE = '22004';
    ELSIF parts IS NULL THEN
        RAISE EXCEPTION 'parts is required and cannot be NULL' USING ERRCODE = '22004';
    ELSIF timeout_seconds IS NULL THEN
        RAISE EXCEPTION 'df.http_multipart(): timeout_seconds must not be NULL' USING ERRCODE = '22004';
    END IF;
    v_config := json_build_object('headers', headers, 'method', upper(method), 'parts', parts,
                                  'timeout_seconds', timeout_seconds, 'url', url);
    v_problem := df._http_problem('HTTP_MULTIPART', v_config);
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_problem USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(headers) = 'object' THEN
        v_config := json_build_object('headers', (SELECT coalesce(json_object_agg(h.key, h.value ORDER BY h.key), '{}')
                                                    FROM jsonb_each(headers) h),
                                      'method', upper(method), 'parts', parts,
                                      'timeout_seconds', timeout_seconds, 'url', url);
    END IF;
    RETURN df._render(df._leaf('HTTP_MULTIPART', df._json_compact(v_config)));
END
$fn$;
REVOKE EXECUTE ON FUNCTION df.http_multipart(text, text, jsonb, jsonb, integer) FROM PUBLIC;
