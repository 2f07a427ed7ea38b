CREATE OR REPLACE FUNCTION df._node_types() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT ARRAY['SQL', 'THEN', 'IF', 'JOIN', 'LOOP', 'BREAK', 'RACE', 'SLEEP', 'WAIT_SCHEDULE',
                 'HTTP', 'HTTP_MULTIPART', 'SIGNAL']
$fn$;

-- The text as JSON, or NULL when it is not valid JSON.
CREATE OR REPLACE FUNCTION df._try_json(p_text text) RETURNS json
LANGUAGE plpgsql IMMUTABLE STRICT
AS $fn$
BEGIN
    RETURN p_text::json;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END
$fn$;

-- Describes a JSON value the way the original's decoder words a type mismatch.
CREATE OR REPLACE FUNCTION df._json_kind(p_value json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $fn$
    SELECT CASE json_typeof(p_value)
               WHEN 'null' THEN 'null'
               WHEN 'boolean' THEN format('boolean `%s`', btrim(p_value::text))
               WHEN 'number' THEN
                   CASE WHEN btrim(p_value::text) ~ '^-?[0-9]+$'
                        THEN format('integer `%s`', btrim(p_value::text))
                        ELSE format('floating point `%s`', btrim(p_value::text)) END
               WHEN 'string' THEN format('string %s', p_value::text)
               WHEN 'array' THEN 'sequence'
               ELSE 'map'
           END
$fn$;

-- Decodes a JSON object as a node. Unknown keys are ignored; a missing or non-string
-- node_type leaves node_type NULL (with a problem); malformed fields set problem.
CREATE OR REPLACE FUNCTION df._decode_node(p_object json) RETURNS df._node
LANGUAGE plpgsql IMMUTABLE STRICT
AS $fn$
DECLARE
    v_node    df._node;
    v_seen    text[] := '{}';
    v_key     text;
    v_value   json;
    v_kind    text;
    v_problem text;
    v_objects boolean;
BEGIN
    v_node.extra_nodes := '{}';
    FOR v_key, v_value IN SELECT e.key, e.value FROM json_each(p_object) e LOOP
        CONTINUE WHEN NOT v_key = ANY (ARRAY['node_type', 'left_node', 'right_node', 'condition_node',
                                             'extra_nodes', 'query', 'result_name']);
        IF v_key = ANY (v_seen) THEN
            v_problem := coalesce(v_problem, format('duplicate field `%s`', v_key));
            CONTINUE;
        END IF;
        v_seen := v_seen || v_key;
        v_kind := json_typeof(v_value);
        CASE v_key
            WHEN 'node_type' THEN
                IF v_kind = 'string' THEN
                    v_node.node_type := v_value #>> '{}';
                ELSE
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a string', df._json_kind(v_value)));
                END IF;
            WHEN 'left_node', 'right_node' THEN
                IF v_kind = 'object' THEN
                    IF v_key = 'left_node' THEN
                        v_node.left_node := v_value::text;
                    ELSE
                        v_node.right_node := v_value::text;
                    END IF;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem, 'Durofut children must be JSON objects');
                END IF;
            WHEN 'condition_node' THEN
                IF v_kind = 'object' THEN
                    v_node.condition_node := v_value::text;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem, 'condition_node must be a Durofut JSON object');
                END IF;
            WHEN 'extra_nodes' THEN
                IF v_kind = 'array' THEN
                    SELECT coalesce(array_agg(a.value::text ORDER BY a.ord), '{}'),
                           bool_and(json_typeof(a.value) = 'object')
                      INTO v_node.extra_nodes, v_objects
                      FROM json_array_elements(v_value) WITH ORDINALITY AS a(value, ord);
                    IF NOT v_objects THEN
                        v_node.extra_nodes := '{}';
                        v_problem := coalesce(v_problem, 'extra_nodes entries must be Durofut JSON objects');
                    END IF;
                ELSE
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a sequence', df._json_kind(v_value)));
                END IF;
            WHEN 'query', 'result_name' THEN
                IF v_kind = 'string' THEN
                    IF v_key = 'query' THEN
                        v_node.query := v_value #>> '{}';
                    ELSE
                        v_node.result_name := v_value #>> '{}';
                    END IF;
                ELSIF v_kind <> 'null' THEN
                    v_problem := coalesce(v_problem,
                        format('invalid type: %s, expected a string', df._json_kind(v_value)));
                END IF;
        END CASE;
    END LOOP;
    IF NOT 'node_type' = ANY (v_seen) THEN
        v_problem := coalesce(v_problem, 'missing field `node_type`');
    END IF;
    v_node.problem := v_problem;
    RETURN v_node;
END
$fn$;

-- The node's canonical compact JSON text. PL/pgSQL, not SQL: the builders call it with a node
-- another function decoded, an argument the planner will not copy into the seven places the
-- body reads it, so as a SQL function it was never inlined but run through the SQL-function
-- executor, which set up (and, once per statement, planned) its query at every call; that was
-- half of what a chain of ~> cost (docs/benchmarks.md, 2026-12-05).
CREATE OR REPLACE FUNCTION df._render(p_node df._node) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    RETURN '{"node_type":' || to_json(p_node.node_type)::text
        || coalesce(',"left_node":' || p_node.left_node, '')
        || coalesce(',"right_node":' || p_node.right_node, '')
        || coalesce(',"condition_node":' || p_node.condition_node, '')
        || CASE WHEN coalesce(cardinality(p_node.extra_nodes), 0) > 0
                THEN ',"extra_nodes":[' || array_to_string(p_node.extra_nodes, ',') || ']'
                ELSE '' END
        || coalesce(',"query":' || to_json(p_node.query)::text, '')
        || coalesce(',"result_name":' || to_json(p_node.result_name)::text, '')
        || '}';
END
$fn$;

-- A leaf node with a query.
CREATE OR REPLACE FUNCTION df._leaf(p_type text, p_query text) RETURNS df._node
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT ROW(p_type, NULL, NULL, NULL, '{}'::text[], p_query, NULL, NULL)::df._node
$fn$;

-- Records that a function whose plain-text result must not become a workflow step
-- (df.setvar, df.unsetvar, df.clearvars, df.await_instance) returned p_result in this
-- statement, so that a builder handed that very text can say what went wrong.
CREATE OR REPLACE FUNCTION df._mark_non_future(p_function text, p_result text) RETURNS void
LANGUAGE sql
AS $fn$
    SELECT set_config('df.non_future_helper',
                      p_function || E'\n'
                          || (extract(epoch FROM statement_timestamp()) * 1000000)::bigint::text
                          || E'\n' || p_result,
                      true)
$fn$;

-- The helper whose result p_text is, when a marked helper returned exactly this text earlier
-- in the current statement; else NULL.
CREATE OR REPLACE FUNCTION df._non_future_source(p_text text) RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_marker text[] := string_to_array(current_setting('df.non_future_helper', true), E'\n');
BEGIN
    IF cardinality(v_marker) = 3
       AND v_marker[2] = (extract(epoch FROM statement_timestamp()) * 1000000)::bigint::text
       AND v_marker[3] = p_text THEN
        RETURN v_marker[1];
    END IF;
    RETURN NULL;
END
$fn$;

-- Auto-wrap ("ensure"): a JSON object with a valid string node_type is that node; one with a
-- string node_type that does not decode is an error; anything else (plain SQL, other JSON, an
-- unknown node_type) becomes a SQL step whose query is the text verbatim.
CREATE OR REPLACE FUNCTION df._ensure(p_text text) RETURNS df._node
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_json   json;
    v_node   df._node;
    v_helper text;
BEGIN
    IF ltrim(p_text, E' \t\n\r') LIKE '{%' THEN
        BEGIN
            v_json := df._try_json(p_text);
        EXCEPTION WHEN statement_too_complex THEN
            RAISE EXCEPTION 'Invalid Durofut JSON: nested too deeply (a graph may be at most 256 levels deep)'
                USING ERRCODE = '22023';
        END;
        IF json_typeof(v_json) = 'object' THEN
            v_node := df._decode_node(v_json);
            IF v_node.node_type IS NOT NULL THEN
                IF v_node.problem IS NOT NULL THEN
                    RAISE EXCEPTION 'Invalid Durofut JSON: failed to deserialize workflow step: %', v_node.problem
                        USING ERRCODE = '22023';
                END IF;
                IF v_node.node_type = ANY (df._node_types()) THEN
                    RETURN v_node;
                END IF;
            END IF;
        END IF;
    ELSE
        v_helper := df._non_future_source(p_text);
        IF v_helper IS NOT NULL THEN
            RAISE EXCEPTION '% cannot be used as a workflow step. Call % before df.start().', v_helper, v_helper
                USING ERRCODE = '22023';
        END IF;
    END IF;
    RETURN df._leaf('SQL', p_text);
END
$fn$;

-- A combinator's result (df.seq, df.as, df.join, ...), kept for the rest of the transaction in
-- the setting df.built_node and returned, so that the next combinator, handed this very text as
-- an operand, takes it as it is (df._operand) instead of parsing and decoding it again. A chain
-- a ~> b ~> ... hands each ~> the whole chain so far as its left operand, and decoding it there
-- made the builders of a chain of n steps cost O(n^2) (60 ms for 250 steps; docs/benchmarks.md,
-- 2026-12-06, night). Only the last result is kept, and only a combinator's: a leaf (df.sql,
-- df.sleep, ...) is small, and keeping it would push out the chain it is about to join.
--
-- No graph starts less checked for it: the text is the rendering of a node its builder checked,
-- and df.start checks the whole graph again however it was built. A value set by hand lets a
-- builder pass on, to df.start, only what the caller could have written as JSON itself.
CREATE OR REPLACE FUNCTION df._built(p_node text) RETURNS text
LANGUAGE sql
AS $fn$
    SELECT pg_catalog.set_config('df.built_node', p_node, true)
$fn$;

-- The operand as canonical node JSON text: as it is when it is the last combinator's result
-- (df._built), else decoded and rendered again.
CREATE OR REPLACE FUNCTION df._operand(p_text text) RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT CASE WHEN pg_catalog.starts_with(p_text, '{"node_type":')
                     AND p_text = pg_catalog.current_setting('df.built_node', true)
                THEN p_text
                ELSE df._render(df._ensure(p_text)) END
$fn$;

-- Why a result name is unusable, or NULL.
CREATE OR REPLACE FUNCTION df._result_name_problem(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $fn$
    SELECT CASE
               WHEN p_name = '' THEN 'result name cannot be empty'
               WHEN p_name !~ '^[A-Za-z_][A-Za-z0-9_]*$'
                   THEN format('result name ''%s'' is not a valid identifier — must match [a-zA-Z_][a-zA-Z0-9_]*', p_name)
           END
$fn$;
