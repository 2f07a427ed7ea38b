-- ---------------------------------------------------------------------------------------------
-- df.explain
-- ---------------------------------------------------------------------------------------------

-- p_text if it has at most p_max bytes, else its longest prefix of at most p_keep bytes + '...'.
CREATE OR REPLACE FUNCTION df._explain_clip(p_text text, p_max integer, p_keep integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := p_keep;
BEGIN
    IF octet_length(p_text) <= p_max THEN
        RETURN p_text;
    END IF;
    WHILE octet_length(left(p_text, n)) > p_keep LOOP
        n := n - 1;
    END LOOP;
    RETURN left(p_text, n) || '...';
END
$$;

-- The one-line label of a node.
CREATE OR REPLACE FUNCTION df._explain_label(p_type text, p_query text, p_name text, p_left text, p_right text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_suffix text := CASE WHEN p_name IS NOT NULL THEN ' |=> ''' || p_name || '''' ELSE '' END;
    v_cfg    json;
    v_str    text;
    v_count  integer;
BEGIN
    IF p_type NOT IN ('SQL', 'SLEEP', 'THEN', 'IF') THEN
        v_cfg := df._try_json(p_query);
    END IF;
    CASE p_type
    WHEN 'SQL' THEN
        RETURN 'SQL: ' || df._explain_clip(coalesce(p_query, '?'), 50, 47) || v_suffix;
    WHEN 'SLEEP' THEN
        RETURN 'SLEEP ' || coalesce(p_query, '?') || 's' || v_suffix;
    WHEN 'WAIT_SCHEDULE' THEN
        RETURN 'WAIT ''' || CASE WHEN json_typeof(v_cfg -> 'cron_expr') = 'string'
                                THEN v_cfg ->> 'cron_expr' ELSE '?' END || '''' || v_suffix;
    WHEN 'HTTP', 'HTTP_MULTIPART' THEN
        IF v_cfg IS NULL THEN
            RETURN p_type || ' ? ?' || v_suffix;
        END IF;
        RETURN p_type || ' '
            || CASE WHEN json_typeof(v_cfg -> 'method') = 'string' THEN v_cfg ->> 'method' ELSE 'POST' END
            || ' '
            || df._explain_clip(CASE WHEN json_typeof(v_cfg -> 'url') = 'string'
                                     THEN v_cfg ->> 'url' ELSE '?' END, 40, 37)
            || v_suffix;
    WHEN 'SIGNAL' THEN
        v_str := CASE WHEN json_typeof(v_cfg -> 'signal_name') = 'string'
                      THEN v_cfg ->> 'signal_name' ELSE '?' END;
        RETURN 'SIGNAL ''' || v_str || ''''
            || CASE WHEN json_typeof(v_cfg -> 'timeout_seconds') = 'number'
                         AND (v_cfg ->> 'timeout_seconds') ~ '^-?[0-9]{1,18}$'
                    THEN ' (' || (v_cfg ->> 'timeout_seconds') || 's)' ELSE '' END
            || v_suffix;
    WHEN 'LOOP' THEN
        RETURN CASE WHEN json_typeof(v_cfg -> 'condition_node') = 'string'
                    THEN 'LOOP (while)' ELSE 'LOOP (infinite)' END || v_suffix;
    WHEN 'BREAK' THEN
        IF json_typeof(v_cfg -> 'break_value') = 'string' THEN
            RETURN 'BREAK ''' || df._explain_clip(v_cfg ->> 'break_value', 20, 17) || '''' || v_suffix;
        END IF;
        RETURN 'BREAK' || v_suffix;
    WHEN 'IF' THEN
        RETURN 'IF' || v_suffix;
    WHEN 'JOIN' THEN
        v_count := (p_left IS NOT NULL)::integer + (p_right IS NOT NULL)::integer
                 + CASE WHEN json_typeof(v_cfg -> 'extra_nodes') = 'array'
                        THEN json_array_length(v_cfg -> 'extra_nodes') ELSE 0 END;
        RETURN 'JOIN (' || v_count || ')' || v_suffix;
    WHEN 'THEN' THEN
        RETURN 'SEQUENCE';
    ELSE
        RETURN p_type;
    END CASE;
END
$$;

-- Renders the tree below p_root. p_nodes maps node id -> {"t": type, "q": query, "n": result
-- name, "l": left id, "r": right id, "s": status}; with p_show_status each line gets the status
-- marker. A THEN chain is flattened into one sequence ('→ ' between items); compound items render
-- their children indented below them. Every line is right-padded to the longest line + 4.
CREATE OR REPLACE FUNCTION df._explain_render(p_root text, p_nodes jsonb, p_show_status boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Work stack: kind 'L' = emit line text, kind 'N' = render node id at prefix (last = is_last).
    st_kind   text[] := ARRAY['N'];
    st_text   text[] := ARRAY[p_root];
    st_prefix text[] := ARRAY[''];
    st_last   boolean[] := ARRAY[true];
    top       integer := 1;
    -- Items produced by one node, in output order, pushed onto the stack reversed.
    it_kind   text[];
    it_text   text[];
    it_prefix text[];
    it_last   boolean[];
    lines     text[] := '{}';
    expansions integer := 0;
    v_kind    text;
    v_id      text;
    v_prefix  text;
    v_last    boolean;
    v_node    jsonb;
    v_conn    text;
    v_seq     text[];
    v_item    jsonb;
    v_cfg     json;
    v_cprefix text;
    v_branch  text[];
    v_out     text;
    v_width   integer;
    i         integer;
BEGIN
    WHILE top > 0 LOOP
        v_kind := st_kind[top]; v_id := st_text[top]; v_prefix := st_prefix[top]; v_last := st_last[top];
        top := top - 1;
        IF v_kind = 'L' THEN
            lines := lines || v_id;
            CONTINUE;
        END IF;
        v_node := p_nodes -> v_id;
        IF v_node IS NULL THEN
            CONTINUE;
        END IF;
        -- Graphs built by df.start are trees of at most 10,000 nodes; this only stops a
        -- hand-made cycle.
        expansions := expansions + 1;
        IF expansions > 100000 THEN
            RETURN 'Cannot explain: the graph is cyclic or too large to render';
        END IF;
        v_conn := CASE WHEN v_prefix = '' THEN '' WHEN v_last THEN '└─' ELSE '├─' END;
        it_kind := '{}'; it_text := '{}'; it_prefix := '{}'; it_last := '{}';

        IF v_node ->> 't' = 'THEN' THEN
            v_seq := df._explain_sequence(v_id, p_nodes);
        ELSE
            v_seq := ARRAY[v_id];
        END IF;
        FOR i IN 1 .. cardinality(v_seq) LOOP
            v_item := p_nodes -> v_seq[i];
            it_kind := it_kind || 'L'::text;
            it_text := it_text || (v_prefix
                || CASE WHEN i = 1 THEN v_conn ELSE '→ ' END
                || df._explain_label(v_item ->> 't', v_item ->> 'q', v_item ->> 'n', v_item ->> 'l', v_item ->> 'r')
                || CASE WHEN p_show_status THEN
                        CASE v_item ->> 's' WHEN 'completed' THEN ' ✓' WHEN 'failed' THEN ' ✗'
                             WHEN 'running' THEN ' ⏳' WHEN 'pending' THEN ' ○'
                             WHEN 'skipped' THEN ' ⊘' ELSE '' END
                   ELSE '' END);
            it_prefix := it_prefix || ''::text; it_last := it_last || false;

            IF v_node ->> 't' = 'THEN' THEN
                IF v_item ->> 't' IN ('THEN', 'SQL', 'SLEEP', 'WAIT_SCHEDULE', 'HTTP', 'HTTP_MULTIPART') THEN
                    CONTINUE;
                END IF;
                v_cprefix := v_prefix || '    ';
            ELSIF v_prefix = '' THEN
                v_cprefix := '    ';
            ELSIF v_last THEN
                v_cprefix := v_prefix || '    ';
            ELSE
                v_cprefix := v_prefix || '│   ';
            END IF;

            -- Children of the item.
            CASE v_item ->> 't'
            WHEN 'LOOP' THEN
                v_cfg := df._try_json(v_item ->> 'q');
                IF v_item ->> 'l' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '↻ body:', v_item ->> 'l'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF json_typeof(v_cfg -> 'condition_node') = 'string' THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '? while:', v_cfg ->> 'condition_node'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
            WHEN 'IF' THEN
                v_cfg := df._try_json(v_item ->> 'q');
                IF json_typeof(v_cfg -> 'condition_node') = 'string' THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '? condition:', v_cfg ->> 'condition_node'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF v_item ->> 'l' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '✓ then:', v_item ->> 'l'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
                IF v_item ->> 'r' IS NOT NULL THEN
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '✗ else:', v_item ->> 'r'];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, true];
                END IF;
            WHEN 'JOIN', 'RACE' THEN
                v_branch := array_remove(ARRAY[v_item ->> 'l', v_item ->> 'r'], NULL);
                IF v_item ->> 't' = 'JOIN' THEN
                    v_cfg := df._try_json(v_item ->> 'q');
                    IF json_typeof(v_cfg -> 'extra_nodes') = 'array' THEN
                        v_branch := v_branch || ARRAY(
                            SELECT x #>> '{}' FROM json_array_elements(v_cfg -> 'extra_nodes') WITH ORDINALITY AS e(x, k)
                             WHERE json_typeof(x) = 'string' ORDER BY k);
                    END IF;
                END IF;
                FOR j IN 1 .. coalesce(cardinality(v_branch), 0) LOOP
                    it_kind := it_kind || ARRAY['L', 'N']; it_text := it_text || ARRAY[v_cprefix || '║ branch ' || j || ':', v_branch[j]];
                    it_prefix := it_prefix || ARRAY['', v_cprefix || '  ']; it_last := it_last || ARRAY[false, j = cardinality(v_branch)];
                END LOOP;
            ELSE
                NULL;
            END CASE;
        END LOOP;

        FOR i IN REVERSE coalesce(cardinality(it_kind), 0) .. 1 LOOP
            top := top + 1;
            st_kind[top] := it_kind[i]; st_text[top] := it_text[i];
            st_prefix[top] := it_prefix[i]; st_last[top] := it_last[i];
        END LOOP;
    END LOOP;

    -- Labels may contain line breaks: lay out the text as a whole, then pad every line.
    v_out := regexp_replace(array_to_string(lines, E'\n'), '\s+$', '');
    IF v_out = '' THEN
        RETURN '';
    END IF;
    lines := string_to_array(v_out, E'\n');
    SELECT max(char_length(regexp_replace(l, E'\r$', ''))) + 4 INTO v_width FROM unnest(lines) AS u(l);
    RETURN (SELECT string_agg(rpad(regexp_replace(l, E'\r$', ''), v_width), E'\n' ORDER BY k)
              FROM unnest(lines) WITH ORDINALITY AS u(l, k));
END
$$;

-- The items of a THEN chain in execution order (nested THENs flattened, missing nodes skipped).
CREATE OR REPLACE FUNCTION df._explain_sequence(p_id text, p_nodes jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_todo text[] := ARRAY[p_id];
    v_top  integer := 1;
    v_seq  text[] := '{}';
    v_id   text;
    v_node jsonb;
BEGIN
    WHILE v_top > 0 LOOP
        v_id := v_todo[v_top];
        v_top := v_top - 1;
        v_node := p_nodes -> v_id;
        IF v_node IS NULL THEN
            CONTINUE;
        END IF;
        IF v_node ->> 't' = 'THEN' THEN
            IF cardinality(v_seq) + v_top > 200000 THEN
                RETURN v_seq;  -- only a hand-made cycle gets here
            END IF;
            IF v_node ->> 'r' IS NOT NULL THEN
                v_top := v_top + 1; v_todo[v_top] := v_node ->> 'r';
            END IF;
            IF v_node ->> 'l' IS NOT NULL THEN
                v_top := v_top + 1; v_todo[v_top] := v_node ->> 'l';
            END IF;
        ELSE
            v_seq := v_seq || v_id;
        END IF;
    END LOOP;
    RETURN v_seq;
END
$$;

-- Dry-run explain of a graph: validates and flattens it the way df.start materialises a graph
-- (pre-order; ids N1, N2, ... for display only) and renders it without status markers. Like the
-- original, structural completeness (a THEN with both children, ...) is not checked here.
CREATE OR REPLACE FUNCTION df._explain_graph(p_root df._node) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_graph  record;
    v_ids    text[] := '{}';
    v_query  text;
    v_extras text[];
    o_query  text[] := '{}';
    v_nodes  jsonb;
BEGIN
    -- The same walk as df.start (df._graph_walk), without the checks of stored nodes.
    SELECT * INTO v_graph FROM df._graph_walk(p_root, false);
    IF v_graph.problem IS NOT NULL THEN
        RETURN v_graph.problem;
    END IF;
    FOR i IN 1..v_graph.node_count LOOP
        v_ids[i] := 'N' || i;
    END LOOP;
    -- A condition or extra children are referenced from the query's JSON config, as in df.nodes.
    FOR i IN 1..v_graph.node_count LOOP
        v_query := v_graph.queries[i];
        IF v_graph.conds[i] IS NOT NULL OR v_graph.extra_count[i] > 0 THEN
            v_extras := '{}';
            FOR j IN 1..v_graph.extra_count[i] LOOP
                v_extras := v_extras || v_ids[v_graph.extra_children[v_graph.extra_first[i] + j - 1]];
            END LOOP;
            v_query := (coalesce(CASE WHEN v_graph.types[i] IN ('IF', 'LOOP', 'JOIN') THEN df._try_json(v_query)::jsonb END, '{}')
                        || CASE WHEN v_graph.conds[i] IS NOT NULL
                                THEN jsonb_build_object('condition_node', v_ids[v_graph.conds[i]]) ELSE '{}' END
                        || CASE WHEN cardinality(v_extras) > 0
                                THEN jsonb_build_object('extra_nodes', to_jsonb(v_extras)) ELSE '{}' END
                       )::text;
        END IF;
        o_query[i] := v_query;
    END LOOP;

    SELECT jsonb_object_agg(u.id, jsonb_build_object('t', u.t, 'q', u.q, 'n', u.n, 'l', u.l, 'r', u.r))
      INTO v_nodes
      FROM unnest(v_ids, v_graph.types, o_query, v_graph.result_names,
                  ARRAY(SELECT v_ids[v_graph.lefts[i]] FROM generate_series(1, v_graph.node_count) i),
                  ARRAY(SELECT v_ids[v_graph.rights[i]] FROM generate_series(1, v_graph.node_count) i))
           AS u(id, t, q, n, l, r);
    RETURN df._explain_render('N1', v_nodes, false);
END
$$;

-- The node a graph value decodes to, or the reason it is not one (the original's
-- "failed to deserialize Durofut: ..." cause).
CREATE OR REPLACE FUNCTION df._explain_decode(p_text text, OUT node df._node, OUT problem text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_json json;
BEGIN
    BEGIN
        v_json := p_text::json;
    EXCEPTION WHEN data_exception THEN
        problem := SQLERRM;
        RETURN;
    WHEN statement_too_complex THEN
        problem := 'JSON nested too deeply';
        RETURN;
    END;
    IF json_typeof(v_json) <> 'object' THEN
        problem := format('invalid type: %s, expected struct Durofut', df._json_kind(v_json));
        RETURN;
    END IF;
    node := df._decode_node(v_json);
    problem := node.problem;
    IF problem IS NOT NULL THEN
        node := NULL;
    END IF;
END
$$;

-- df.explain marks a cancelled node like a failed one (✗), as it marks a cancelled instance.
CREATE OR REPLACE FUNCTION df._explain_instance(p_id text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_inst   record;
    v_engine record;
    v_nodes  jsonb;
    v_status text;
    v_head   text;
BEGIN
    SELECT i.root_node::text AS root, i.label, i.status INTO v_inst
      FROM df.instances i WHERE i.id = p_id;
    IF NOT FOUND OR v_inst.root IS NULL THEN
        RETURN format('Instance ''%s'' not found', p_id);
    END IF;
    SELECT jsonb_object_agg(s.node_id, jsonb_build_object('t', s.node_type, 'q', s.query, 'n', s.result_name,
                                                          'l', s.left_node, 'r', s.right_node,
                                                          's', CASE s.inferred_status WHEN 'cancelled' THEN 'failed'
                                                                    ELSE s.inferred_status END))
      INTO v_nodes
      FROM df._node_statuses(p_id) s;
    IF v_nodes IS NULL THEN
        RETURN format('No nodes found for instance ''%s''', p_id);
    END IF;
    SELECT e.status, e.output INTO v_engine
      FROM df._engine_info(ARRAY[p_id], quote_ident(current_user)::regrole, df._caller_key()) e;
    v_status := coalesce(nullif(v_engine.status, ''), v_inst.status, '');

    v_head := 'Instance: ' || p_id || coalesce(' (' || v_inst.label || ')', '') || E'\n'
        || 'Status:   '
        || CASE lower(v_status)
               WHEN 'completed' THEN '✓' WHEN 'continuedasnew' THEN '✓'
               WHEN 'failed' THEN '✗' WHEN 'canceled' THEN '✗' WHEN 'cancelled' THEN '✗'
               WHEN 'running' THEN '⏳'
               ELSE '○' END
        || ' ' || v_status || E'\n'
        || coalesce('Output:   ' || df._explain_clip(v_engine.output, 60, 57) || E'\n', '')
        || E'\n';
    RETURN v_head || df._explain_render(v_inst.root, v_nodes, true);
END
$$;

-- Decides what the input is. Returns the finished text, or (result NULL) the DSL expression that
-- df.explain must evaluate in the caller's own environment.
CREATE OR REPLACE FUNCTION df._explain_classify(p_input text, OUT result text, OUT expression text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_input text := regexp_replace(p_input, '^\s+|\s+$', '', 'g');
    v_graph record;
    v_upper text;
BEGIN
    IF v_input ~ '^[0-9A-Fa-f]{8}$' THEN
        result := df._explain_instance(v_input);
        RETURN;
    END IF;
    IF left(v_input, 1) = '{' THEN
        v_graph := df._explain_decode(v_input);
        IF v_graph.problem IS NULL THEN
            result := df._explain_graph(v_graph.node);
            RETURN;
        END IF;
        IF v_graph.problem = 'JSON nested too deeply' THEN
            result := 'Invalid durable function graph: root: Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.';
            RETURN;
        END IF;
    END IF;
    IF strpos(v_input, '~>') > 0 OR strpos(v_input, '|=>') > 0 OR strpos(v_input, '?>') > 0
       OR strpos(v_input, '!>') > 0 OR strpos(v_input, '@>') > 0 OR strpos(v_input, 'df.') > 0 THEN
        expression := v_input;
        RETURN;
    END IF;
    v_upper := upper(v_input);
    IF v_upper ~ '^(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|CALL|DO|TRUNCATE|GRANT|REVOKE|EXPLAIN) '
       OR v_upper ~ '^(SELECT|INSERT|UPDATE|DELETE|WITH)\n' THEN
        result := df._explain_graph(df._leaf('SQL', v_input));
        RETURN;
    END IF;
    result := E'Cannot explain input: not a valid Durofut JSON, instance ID, SQL statement, or DSL expression.\n'
           || 'Hint: DSL expressions use df.*() functions and operators like ~>, |=>, &, |.';
END
$$;

-- The graph a DSL expression evaluates to, or the text explaining why there is none.
-- Deliberately without a pinned search_path: the expression is the caller's own SQL and resolves
-- names the way the caller's session does. It runs as one statement (a cursor refuses several)
-- in a read-only subtransaction that is always rolled back, so explaining has no side effects.
CREATE OR REPLACE FUNCTION df._explain_evaluate(p_expression text, OUT graph df._node, OUT message text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_cursor    refcursor;
    v_text      text;
    v_evaluated boolean := false;
    v_decoded   record;
BEGIN
    BEGIN
        PERFORM pg_catalog.set_config('transaction_read_only', 'on', true);
        OPEN v_cursor NO SCROLL FOR EXECUTE pg_catalog.concat('SELECT ', p_expression);
        FETCH v_cursor INTO v_text;
        CLOSE v_cursor;
        v_evaluated := true;
        RAISE EXCEPTION 'df.explain: discarding the evaluation''s effects';
    EXCEPTION WHEN OTHERS THEN
        IF NOT v_evaluated THEN
            message := pg_catalog.concat('Failed to evaluate expression: ', SQLERRM);
            RETURN;
        END IF;
    END;
    IF v_text IS NULL THEN
        message := 'Expression returned NULL';
        RETURN;
    END IF;
    v_decoded := df._explain_decode(v_text);
    graph := v_decoded.node;
    IF v_decoded.problem IS NOT NULL THEN
        message := pg_catalog.concat('Failed to parse Durofut JSON: failed to deserialize Durofut: ', v_decoded.problem);
    END IF;
END
$$;

-- Tree view of a live instance (8 hex digits), of graph JSON, of a plain SQL statement, or of a
-- DSL expression. Bad input gives an explanatory text, never an error.
CREATE OR REPLACE FUNCTION df.explain(input text) RETURNS text
LANGUAGE plpgsql STRICT
AS $$
DECLARE
    v_plan record;
    v_eval record;
BEGIN
    v_plan := df._explain_classify(input);
    IF v_plan.expression IS NULL THEN
        RETURN v_plan.result;
    END IF;
    v_eval := df._explain_evaluate(v_plan.expression);
    IF v_eval.message IS NOT NULL THEN
        RETURN v_eval.message;
    END IF;
    RETURN df._explain_graph(v_eval.graph);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Function privileges
-- ---------------------------------------------------------------------------------------------

-- As for the control plane: no df._* function is executable by PUBLIC, and df.grant_usage()
-- grants the ones the public monitoring functions call as their caller. The two SECURITY
-- DEFINER helpers among them (_engine_info, _engine_executions) re-check the caller themselves.
REVOKE EXECUTE ON FUNCTION
    df._list_instances_max_limit(),
    df._check_list_limit(integer),
    df._engine_info(text[], regrole, uuid),
    df._engine_executions(text, integer, regrole, uuid),
    df._decode_list_cursor(text),
    df._stamp_lineage(text),
    df._node_statuses(text),
    df._explain_clip(text, integer, integer),
    df._explain_label(text, text, text, text, text),
    df._explain_render(text, jsonb, boolean),
    df._explain_sequence(text, jsonb),
    df._explain_graph(df._node),
    df._explain_decode(text),
    df._explain_instance(text),
    df._explain_classify(text),
    df._explain_evaluate(text)
FROM PUBLIC;
