-- ---------------------------------------------------------------------------------------------
-- df.start
-- ---------------------------------------------------------------------------------------------

-- Starts the engine orchestration for an instance that the calling transaction has just
-- inserted (df.start does that). Re-validates everything a caller could have inserted by hand:
-- the submitter, the database, the tree shape and size of the graph and every node. Only
-- df._start_instance calls it (application roles may not), after checking the caller's role.
CREATE OR REPLACE FUNCTION df._launch(p_instance_id text, p_vars jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_instance record;
    v_top      bigint;
    v_full     bigint;
    v_count    integer;
    v_parent   text[];
    v_child    text[];
    v_via      text[];
    v_bad      record;
    v_reached  integer;
    v_depth    integer;
BEGIN
    SELECT i.id, i.label, i.root_node, i.status, i.submitted_by, i.database, i.xmin AS row_xmin
      INTO v_instance
      FROM df.instances i WHERE i.id = p_instance_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Instance not found or access denied: %', p_instance_id USING ERRCODE = '42704';
    END IF;
    IF v_instance.status <> 'pending' THEN
        RAISE EXCEPTION 'instance % is %, not pending; only a new instance can be launched',
            p_instance_id, v_instance.status USING ERRCODE = '55000';
    END IF;
    -- The row must come from this transaction (or one of its subtransactions): its xmin is then
    -- "in progress" (a visible row of any other transaction has committed). Widen the 32-bit
    -- xmin to a full transaction id in the epoch of this transaction's id.
    v_top := pg_current_xact_id()::text::bigint;
    v_full := v_top - v_top % 4294967296 + v_instance.row_xmin::text::bigint;
    IF v_full > v_top + 2147483648 THEN
        v_full := v_full - 4294967296;
    ELSIF v_full < v_top - 2147483648 THEN
        v_full := v_full + 4294967296;
    END IF;
    IF v_full < 3 OR pg_xact_status(v_full::text::xid8) IS DISTINCT FROM 'in progress' THEN
        RAISE EXCEPTION 'instance % was not created in the current transaction; use df.start()',
            p_instance_id USING ERRCODE = '55000';
    END IF;

    PERFORM df._check_submitter(v_instance.submitted_by::oid);
    PERFORM df._check_http_grant(p_instance_id, v_instance.submitted_by::oid);
    IF v_instance.database IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = v_instance.database) THEN
        RAISE EXCEPTION 'database "%" does not exist', v_instance.database USING ERRCODE = '3D000';
    END IF;
    p_vars := coalesce(p_vars, '{}');
    IF jsonb_typeof(p_vars) <> 'object'
       OR EXISTS (SELECT 1 FROM jsonb_each(p_vars) e WHERE jsonb_typeof(e.value) <> 'string') THEN
        RAISE EXCEPTION 'variables must be a JSON object of text values' USING ERRCODE = '22023';
    END IF;

    -- The graph: at most 10,000 nodes forming one tree under root_node, at most 256 deep,
    -- every node able to run.
    SELECT count(*) INTO v_count FROM df.nodes n WHERE n.instance_id = p_instance_id;
    IF v_count > 10000 THEN
        RAISE EXCEPTION 'Invalid durable function graph: Workflow exceeds maximum node count of 10000. Simplify the workflow or break it into multiple instances.'
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM df.nodes n WHERE n.instance_id = p_instance_id AND n.id = v_instance.root_node) THEN
        RAISE EXCEPTION 'Invalid durable function graph: root node % does not exist', v_instance.root_node
            USING ERRCODE = '22023';
    END IF;

    -- Parent-child edges: left, right, and the ids in IF/LOOP and JOIN query configs.
    WITH n AS (
        SELECT x.id, x.node_type, x.left_node, x.right_node,
               CASE WHEN x.node_type IN ('IF', 'LOOP', 'JOIN') AND x.query IS NOT NULL
                    THEN df._try_json(x.query) END AS config
          FROM df.nodes x
         WHERE x.instance_id = p_instance_id),
    e AS (
        SELECT n.id::text AS parent, n.left_node::text AS child, 'left_node' AS via
          FROM n WHERE n.left_node IS NOT NULL
        UNION ALL
        SELECT n.id, n.right_node, 'right_node' FROM n WHERE n.right_node IS NOT NULL
        UNION ALL
        SELECT n.id, n.config ->> 'condition_node', 'condition_node'
          FROM n
         WHERE n.node_type IN ('IF', 'LOOP') AND json_typeof(n.config) = 'object'
           AND n.config -> 'condition_node' IS NOT NULL
        UNION ALL
        SELECT n.id, j.value #>> '{}', 'extra_nodes'
          FROM n, json_array_elements(CASE WHEN n.node_type = 'JOIN' AND json_typeof(n.config) = 'object'
                                                AND json_typeof(n.config -> 'extra_nodes') = 'array'
                                           THEN n.config -> 'extra_nodes' END) j)
    SELECT coalesce(array_agg(e.parent), '{}'), coalesce(array_agg(e.child), '{}'),
           coalesce(array_agg(e.via), '{}')
      INTO v_parent, v_child, v_via
      FROM e;

    SELECT x.id, p.problem INTO v_bad
      FROM df.nodes x
      LEFT JOIN (SELECT DISTINCT e.parent FROM unnest(v_parent, v_via) AS e(parent, via)
                  WHERE e.via = 'condition_node') c ON c.parent = x.id
     CROSS JOIN LATERAL (SELECT df._node_problem(x.node_type, x.query, x.left_node IS NOT NULL,
                                                 x.right_node IS NOT NULL, c.parent IS NOT NULL,
                                                 x.result_name) AS problem) p
     WHERE x.instance_id = p_instance_id AND p.problem IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node %: %', v_bad.id, v_bad.problem USING ERRCODE = '22023';
    END IF;
    SELECT e.parent, e.child, e.via INTO v_bad
      FROM unnest(v_parent, v_child, v_via) AS e(parent, child, via)
     WHERE e.child IS NULL
        OR NOT EXISTS (SELECT 1 FROM df.nodes x WHERE x.instance_id = p_instance_id AND x.id = e.child)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node %: % refers to a node that does not exist: %',
            v_bad.parent, v_bad.via, coalesce(v_bad.child, 'null') USING ERRCODE = '22023';
    END IF;
    SELECT e.child INTO v_bad
      FROM unnest(v_child) AS e(child)
     GROUP BY e.child
    HAVING count(*) > 1 OR e.child = v_instance.root_node
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'Invalid durable function graph: node % has more than one parent; a graph must be a tree',
            v_bad.child USING ERRCODE = '22023';
    END IF;
    -- Every node now has at most one parent and the root none, so the walk from the root
    -- visits a tree and ends.
    -- Explicit collations: the caller's argument collation (a name-typed label, say) becomes this
    -- function's, and a recursive query insists on one collation.
    WITH RECURSIVE e AS MATERIALIZED (
        SELECT u.parent COLLATE "C" AS parent, u.child COLLATE "C" AS child
          FROM unnest(v_parent, v_child) AS u(parent, child)),
    tree(id, depth) AS (
        SELECT v_instance.root_node::text COLLATE "C", 0
        UNION ALL
        SELECT e.child, t.depth + 1
          FROM tree t JOIN e ON e.parent = t.id
         WHERE t.depth <= 256)
    SELECT count(*), max(tree.depth) INTO v_reached, v_depth FROM tree;
    IF v_depth > 256 THEN
        RAISE EXCEPTION 'Invalid durable function graph: Graph exceeds maximum nesting depth of 256. Simplify the workflow or break it into multiple instances.'
            USING ERRCODE = '22023';
    END IF;
    IF v_reached <> v_count THEN
        RAISE EXCEPTION 'Invalid durable function graph: % of % nodes are not reachable from root node %',
            v_count - v_reached, v_count, v_instance.root_node USING ERRCODE = '22023';
    END IF;

    PERFORM df._launch_engine(v_instance.id, v_instance.label, v_instance.root_node,
                              v_instance.submitted_by::oid, v_instance.database, p_vars);
END
$fn$;

-- Starts the engine orchestration of a checked instance: its input is the graph as the worker
-- reads it (io.pgdurable.graph.model.GraphModel), built from the instance's rows. Called by
-- df._launch and df._start_graph, as their owner. Built as json, not jsonb: the text is all
-- that is kept, and jsonb's binary form, built and printed again, took twice as long (about 0.1 ms
-- of a ten-step df.start; docs/benchmarks.md, 2026-12-05, third).
CREATE OR REPLACE FUNCTION df._launch_engine(p_instance_id text, p_label text, p_root text, p_role oid,
                                              p_database text, p_vars jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_input json;
BEGIN
    SELECT json_build_object(
               'instance_id', p_instance_id,
               'label', p_label,
               'database', p_database,
               'role', r.rolname,
               'role_oid', r.oid::bigint,
               'root', p_root,
               'vars', p_vars,
               'nodes', (SELECT json_object_agg(n.id, json_build_object(
                                    'type', n.node_type, 'query', n.query, 'result_name', n.result_name,
                                    'left', n.left_node, 'right', n.right_node))
                           FROM df.nodes n WHERE n.instance_id = p_instance_id))
      INTO v_input
      FROM pg_roles r
     WHERE r.oid = p_role;

    PERFORM df_engine.start_orchestration(p_instance_id, 'df.function_graph', v_input::text);
END
$fn$;

-- Why a decoded graph node is not acceptable at this depth, or NULL; shared by df.start (which
-- raises it) and df.explain (which shows it), so both always agree.
CREATE OR REPLACE FUNCTION df._graph_node_problem(p_node df._node, p_depth integer) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_depth constant integer := 256;
    v_config json;
BEGIN
    IF p_depth > c_max_depth THEN
        RETURN format('Graph exceeds maximum nesting depth of %s. Simplify the workflow or break it into multiple instances.', c_max_depth);
    ELSIF NOT p_node.node_type = ANY (df._node_types()) THEN
        RETURN format('Unknown node_type ''%s''. Valid types: %s',
                      p_node.node_type, array_to_string(df._node_types(), ', '));
    ELSIF p_node.condition_node IS NOT NULL AND p_node.node_type NOT IN ('IF', 'LOOP') THEN
        RETURN format('condition_node is not valid for %s nodes', p_node.node_type);
    ELSIF cardinality(p_node.extra_nodes) > 0 AND p_node.node_type <> 'JOIN' THEN
        RETURN format('extra_nodes is not valid for %s nodes', p_node.node_type);
    ELSIF p_node.node_type IN ('IF', 'LOOP', 'JOIN') THEN
        v_config := df._try_json(p_node.query);
        IF json_typeof(v_config) = 'object' THEN
            IF p_node.node_type <> 'JOIN' AND v_config -> 'condition_node' IS NOT NULL THEN
                RETURN format('condition_node in %s must be a first-class Durofut field, not embedded in query', p_node.node_type);
            ELSIF p_node.node_type = 'JOIN' AND v_config -> 'extra_nodes' IS NOT NULL THEN
                RETURN 'extra_nodes in JOIN must be a first-class Durofut field, not embedded in query';
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;

-- Walks a decoded graph depth first (left, right, condition, extras), numbering nodes as they are
-- discovered (the root is 1) and checking each one, for df.start (which raises the problem) and
-- df.explain (which shows it), so that both walk, number and refuse alike. On the first problem it
-- stops and returns it, as 'Invalid durable function graph: <path>: <problem>'. Otherwise it
-- returns the nodes by number: their type, query, result name, the numbers of their left, right
-- and condition children, and their extra children (those of node i are
-- extra_children[extra_first[i] .. extra_first[i] + extra_count[i] - 1]). p_check_nodes also
-- applies df._node_problem (the checks of a stored node), as df.start does before writing.
CREATE OR REPLACE FUNCTION df._graph_walk(p_root df._node, p_check_nodes boolean,
    OUT problem text, OUT node_count integer,
    OUT types text[], OUT queries text[], OUT result_names text[],
    OUT lefts integer[], OUT rights integer[], OUT conds integer[],
    OUT extra_first integer[], OUT extra_count integer[], OUT extra_children integer[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_depth constant integer := 256;
    c_max_nodes constant integer := 10000;
    -- The walk: a stack of discovered, decoded nodes with their numbers, depths and paths.
    s_node   df._node[] := ARRAY[p_root];
    s_num    integer[] := ARRAY[1];
    s_depth  integer[] := ARRAY[0];
    s_path   text[] := ARRAY['root'];
    v_top    integer := 1;
    v_node   df._node;
    v_num    integer;
    v_depth  integer;
    v_path   text := 'root';
    v_config json;
    v_xn     integer := 0;
    -- The children of the node being visited.
    k_raw    text[];
    k_seg    text[];
    k_node   df._node[];
    k_n      integer;
    v_child  df._node;
BEGIN
    node_count := 1;
    types := '{}'; queries := '{}'; result_names := '{}';
    lefts := '{}'; rights := '{}'; conds := '{}';
    extra_first := '{}'; extra_count := '{}'; extra_children := '{}';
    WHILE v_top > 0 LOOP
        v_node := s_node[v_top];
        v_num := s_num[v_top];
        v_depth := s_depth[v_top];
        v_path := s_path[v_top];
        s_node[v_top] := NULL;
        v_top := v_top - 1;
        v_config := NULL;

        problem := df._graph_node_problem(v_node, v_depth);
        IF problem IS NULL AND v_node.node_type IN ('IF', 'LOOP', 'JOIN') THEN
            v_config := df._try_json(v_node.query);
        END IF;
        IF problem IS NOT NULL THEN
            problem := format('Invalid durable function graph: %s: %s', v_path, problem);
            RETURN;
        END IF;

        -- Discover the children.
        k_raw := '{}';
        k_seg := '{}';
        k_n := 0;
        IF v_node.left_node IS NOT NULL THEN
            k_n := k_n + 1;
            k_raw[k_n] := v_node.left_node;
            k_seg[k_n] := 'left';
        END IF;
        IF v_node.right_node IS NOT NULL THEN
            k_n := k_n + 1;
            k_raw[k_n] := v_node.right_node;
            k_seg[k_n] := 'right';
        END IF;
        IF v_node.condition_node IS NOT NULL THEN
            k_n := k_n + 1;
            k_raw[k_n] := v_node.condition_node;
            k_seg[k_n] := 'condition_node';
        END IF;
        extra_count[v_num] := coalesce(cardinality(v_node.extra_nodes), 0);
        extra_first[v_num] := v_xn + 1;
        FOR e IN 1..extra_count[v_num] LOOP
            k_n := k_n + 1;
            k_raw[k_n] := v_node.extra_nodes[e];
            k_seg[k_n] := 'extra_nodes[' || (e - 1) || ']';
        END LOOP;
        k_node := '{}';
        FOR k IN 1..k_n LOOP
            IF node_count >= c_max_nodes THEN
                problem := format('Invalid durable function graph: %s.%s: Workflow exceeds maximum node count of %s. Simplify the workflow or break it into multiple instances.',
                                  v_path, k_seg[k], c_max_nodes);
                RETURN;
            END IF;
            v_child := df._decode_node(k_raw[k]::json);
            IF v_child.problem IS NOT NULL THEN
                problem := format('Invalid durable function graph: %s.%s: failed to deserialize Durofut child: %s',
                                  v_path, k_seg[k], v_child.problem);
                RETURN;
            END IF;
            k_node[k] := v_child;
            node_count := node_count + 1;
            CASE k_seg[k]
                WHEN 'left' THEN lefts[v_num] := node_count;
                WHEN 'right' THEN rights[v_num] := node_count;
                WHEN 'condition_node' THEN conds[v_num] := node_count;
                ELSE
                    v_xn := v_xn + 1;
                    extra_children[v_xn] := node_count;
            END CASE;
        END LOOP;

        -- A condition or extra children become ids inside a JSON config in query.
        IF (v_node.condition_node IS NOT NULL OR extra_count[v_num] > 0) AND v_node.query IS NOT NULL THEN
            IF v_config IS NULL THEN
                BEGIN
                    PERFORM v_node.query::json;
                EXCEPTION WHEN data_exception THEN
                    problem := format('Invalid durable function graph: %s: query in %s must be valid JSON config: %s',
                                      v_path, v_node.node_type, SQLERRM);
                    RETURN;
                END;
            END IF;
            IF json_typeof(v_config) <> 'object' THEN
                problem := format('Invalid durable function graph: %s: query in %s must be a JSON config object',
                                  v_path, v_node.node_type);
                RETURN;
            END IF;
        END IF;

        IF p_check_nodes THEN
            problem := df._node_problem(v_node.node_type, v_node.query, v_node.left_node IS NOT NULL,
                                        v_node.right_node IS NOT NULL, v_node.condition_node IS NOT NULL,
                                        v_node.result_name);
            IF problem IS NOT NULL THEN
                problem := format('Invalid durable function graph: %s: %s', v_path, problem);
                RETURN;
            END IF;
        END IF;

        types[v_num] := v_node.node_type;
        queries[v_num] := v_node.query;
        result_names[v_num] := v_node.result_name;

        -- Push in reverse, so that the left child is visited first. Child k is node
        -- node_count - k_n + k.
        FOR k IN REVERSE k_n..1 LOOP
            v_top := v_top + 1;
            s_node[v_top] := k_node[k];
            s_num[v_top] := node_count - k_n + k;
            s_depth[v_top] := v_depth + 1;
            s_path[v_top] := v_path || '.' || k_seg[k];
        END LOOP;
    END LOOP;
EXCEPTION WHEN statement_too_complex THEN
    -- JSON nested far deeper than any acceptable graph exhausts the parser's stack.
    problem := format('Invalid durable function graph: %s: Graph exceeds maximum nesting depth of %s. Simplify the workflow or break it into multiple instances.',
                      v_path, c_max_depth);
END
$fn$;

-- The graph a df.start() value describes, decoded, walked and checked whole, for role p_role
-- (which must be able to submit) and database p_database (NULL: this one); raises the first
-- problem. df.start calls it as its caller for transaction_mode 'new' (which must not spend a
-- connection on bad input), df._start_graph as its owner.
CREATE OR REPLACE FUNCTION df._fut_graph(p_fut text, p_database text, p_role oid,
    OUT problem text, OUT node_count integer,
    OUT types text[], OUT queries text[], OUT result_names text[],
    OUT lefts integer[], OUT rights integer[], OUT conds integer[],
    OUT extra_first integer[], OUT extra_count integer[], OUT extra_children integer[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_max_depth constant integer := 256;
    v_json   json;
    v_root   df._node;
    v_helper text;
BEGIN
    BEGIN
        -- The graph value: a JSON object with a string node_type is a node, anything else a
        -- single SQL step.
        IF ltrim(p_fut, E' \t\n\r') LIKE '{%' THEN
            v_json := df._try_json(p_fut);
            IF json_typeof(v_json) = 'object' THEN
                v_root := df._decode_node(v_json);
                IF v_root.node_type IS NOT NULL THEN
                    IF NOT v_root.node_type = ANY (df._node_types()) THEN
                        RAISE EXCEPTION 'Invalid durable function: Unknown node_type ''%''. Valid types: %',
                            v_root.node_type, array_to_string(df._node_types(), ', ') USING ERRCODE = '22023';
                    END IF;
                    IF v_root.problem IS NOT NULL THEN
                        RAISE EXCEPTION 'Invalid durable function: Malformed Durofut JSON with node_type ''%'': %',
                            v_root.node_type, v_root.problem USING ERRCODE = '22023';
                    END IF;
                END IF;
            END IF;
        ELSE
            v_helper := df._non_future_source(p_fut);
            IF v_helper IS NOT NULL THEN
                RAISE EXCEPTION 'Invalid durable function: % cannot be used as a workflow step. Call % before df.start().',
                    v_helper, v_helper USING ERRCODE = '22023';
            END IF;
        END IF;
        IF v_root.node_type IS NULL THEN
            v_root := df._leaf('SQL', p_fut);
        END IF;

        IF p_database IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE d.datname = p_database) THEN
            RAISE EXCEPTION 'database "%" does not exist', p_database USING ERRCODE = '3D000';
        END IF;
        PERFORM df._check_submitter(p_role);

        -- Walk and check the whole graph; nothing is written until all of it is good.
        SELECT * INTO problem, node_count, types, queries, result_names, lefts, rights, conds,
                      extra_first, extra_count, extra_children
          FROM df._graph_walk(v_root, true);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION '%', problem USING ERRCODE = '22023';
        END IF;
    EXCEPTION WHEN statement_too_complex THEN
        -- JSON nested far deeper than any acceptable graph exhausts the parser's stack.
        RAISE EXCEPTION 'Invalid durable function graph: root: Graph exceeds maximum nesting depth of %. Simplify the workflow or break it into multiple instances.',
            c_max_depth USING ERRCODE = '22023';
    END;
END
$fn$;

-- df.start: the checks of its own arguments here, as its caller; the graph's checks and its
-- writes in df._start_graph, as that function's owner (application roles have no write
-- privileges on the tables). Until 2026-12-04 df.start checked the graph itself and handed the
-- rows to df._start_instance, which, unable to trust rows a caller could have made up, checked
-- them all again in df._launch.
CREATE OR REPLACE FUNCTION df.start(fut text, label text DEFAULT NULL, database text DEFAULT NULL,
                         transaction_mode text DEFAULT 'caller') RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_fut      text := $1;
    v_label    text := $2;
    v_database text := $3;
    v_mode     text := $4;
BEGIN
    IF v_mode IS NULL OR lower(v_mode) NOT IN ('caller', 'new') THEN
        RAISE EXCEPTION 'invalid transaction_mode "%" for df.start(): expected ''caller'' or ''new''',
            coalesce(v_mode, 'NULL') USING ERRCODE = '22023';
    END IF;
    -- 'new' is refused on a step connection before anything else is checked: it would only
    -- spend a second backend there (see df._start_new_transaction).
    IF lower(v_mode) = 'new' AND current_setting('df.in_workflow', true) = 'true' THEN
        RAISE EXCEPTION 'df.start(): transaction_mode ''new'' cannot be used inside a workflow: a step''s df.start() already commits with the step; leave transaction_mode at ''caller'''
            USING ERRCODE = '0A000';
    END IF;
    IF v_fut IS NULL THEN
        RAISE EXCEPTION 'df.start(): fut must not be NULL' USING ERRCODE = '22004';
    END IF;

    -- transaction_mode 'new': the whole graph is checked here, so bad input never costs a
    -- connection; a session of its own starts it again, as the calling role, and commits.
    IF lower(v_mode) = 'new' THEN
        PERFORM df._fut_graph(v_fut, v_database, (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user));
        RETURN df._start_new_transaction(quote_ident(current_user)::regrole, df._caller_key(), v_fut, v_label,
                                         v_database);
    END IF;

    RETURN df._start_graph(quote_ident(current_user)::regrole, df._caller_key(), v_fut, v_label, v_database);
END
$fn$;

-- Checks a df.start() value and starts it for role p_role, which the caller must show it acts
-- as (df._acts_as). The graph is decoded, walked and checked here (df._fut_graph), so the rows
-- written from it need no second look.
CREATE OR REPLACE FUNCTION df._start_graph(p_role regrole, p_key uuid, p_fut text, p_label text, p_database text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_graph    record;
    v_count    integer;
    v_ids      text[] := '{}';
    v_unique   boolean;
    v_queries  text[];
    r_left     text[] := '{}';
    r_right    text[] := '{}';
    v_list     text[];
    v_members  text;
    v_id       text;
BEGIN
    PERFORM df._check_starter(p_role, p_key);
    SELECT * INTO v_graph FROM df._fut_graph(p_fut, p_database, p_role::oid);
    v_count := v_graph.node_count;
    v_queries := v_graph.queries;

    -- Node ids, unique within the graph. An id is 32 random bits, so a graph of thousands of
    -- nodes can draw one twice: then each id's first use is kept and the rest are drawn again.
    -- Drawn in a loop, not by a statement: a statement whose row count depends on v_count has
    -- no generic plan the plan cache accepts, and was planned again at every start (about as
    -- long as it ran; docs/benchmarks.md, 2026-12-05).
    FOR attempt IN 1..10 LOOP
        FOR i IN coalesce(cardinality(v_ids), 0) + 1..v_count LOOP
            v_ids[i] := df._new_id();
        END LOOP;
        v_unique := (SELECT count(DISTINCT u.id) FROM unnest(v_ids) AS u(id)) = v_count;
        EXIT WHEN v_unique;
        SELECT array_agg(u.id ORDER BY u.pos) INTO v_ids
          FROM (SELECT c.id, min(c.pos) AS pos
                  FROM (SELECT a.id, a.pos FROM unnest(v_ids) WITH ORDINALITY AS a(id, pos)) c
                 GROUP BY c.id) u;
    END LOOP;
    IF NOT v_unique THEN
        RAISE EXCEPTION 'Invalid durable function graph: root: exhausted 10 attempts to generate a graph-unique node ID'
            USING ERRCODE = '55000';
    END IF;

    -- Children by id; a condition or extra children go into the JSON config in query.
    FOR i IN 1..v_count LOOP
        r_left[i] := v_ids[v_graph.lefts[i]];
        r_right[i] := v_ids[v_graph.rights[i]];
        IF v_graph.conds[i] IS NOT NULL OR v_graph.extra_count[i] > 0 THEN
            v_members := '';
            IF v_graph.conds[i] IS NOT NULL THEN
                v_members := ',"condition_node":"' || v_ids[v_graph.conds[i]] || '"';
            END IF;
            IF v_graph.extra_count[i] > 0 THEN
                v_list := '{}';
                FOR j IN 1..v_graph.extra_count[i] LOOP
                    v_list[j] := '"' || v_ids[v_graph.extra_children[v_graph.extra_first[i] + j - 1]] || '"';
                END LOOP;
                v_members := v_members || ',"extra_nodes":[' || array_to_string(v_list, ',') || ']';
            END IF;
            v_queries[i] := df._config_with(v_queries[i], v_members);
        END IF;
    END LOOP;

    v_id := df._insert_graph(p_role, p_label, p_database, v_ids, v_graph.types, v_queries, v_graph.result_names,
                             r_left, r_right);
    -- The role and the database were checked with the graph; the variables are text by their
    -- table's type. What the graph asks of the role's grants is checked on its rows, when it
    -- has HTTP steps at all.
    IF v_graph.types && ARRAY['HTTP', 'HTTP_MULTIPART'] THEN
        PERFORM df._check_http_grant(v_id, p_role::oid);
    END IF;
    PERFORM df._launch_engine(v_id, p_label, v_ids[1], p_role::oid, p_database, df._role_vars(p_role));
    RETURN v_id;
END
$fn$;

-- Raises unless the caller of df._start_graph or df._start_instance has shown that it acts as
-- p_role (df._acts_as): df.start passes current_user and its key.
CREATE OR REPLACE FUNCTION df._check_starter(p_role regrole, p_key uuid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT df._acts_as(p_role, p_key) THEN
        RAISE EXCEPTION 'df.start(): the caller (session user "%") has not shown that it acts as role %; call df.start() as that role',
            session_user, coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
END
$fn$;

-- Writes a graph's rows for role p_role, after the limits on its label and its steps' texts:
-- the instance (with a fresh id) and its nodes, the first of which is the root. Returns the
-- instance's id. Called by df._start_graph and df._start_instance, as their owner.
CREATE OR REPLACE FUNCTION df._insert_graph(p_role regrole, p_label text, p_database text, p_ids text[],
                                            p_types text[], p_queries text[], p_results text[],
                                            p_lefts text[], p_rights text[])
RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id      text;
    v_largest integer;
    v_total   bigint;
    v_query   text;
BEGIN
    IF length(p_label) > 500 THEN
        RAISE EXCEPTION 'df.start(): label is % characters long; the limit is 500 characters', length(p_label)
            USING ERRCODE = '54000';
    END IF;
    IF coalesce(cardinality(p_ids), 0) = 0
       OR cardinality(p_types) <> cardinality(p_ids) OR cardinality(p_queries) <> cardinality(p_ids)
       OR cardinality(p_results) <> cardinality(p_ids) OR cardinality(p_lefts) <> cardinality(p_ids)
       OR cardinality(p_rights) <> cardinality(p_ids) THEN
        RAISE EXCEPTION 'df._start_instance(): the node arrays must be non-empty and of one length'
            USING ERRCODE = '22023';
    END IF;

    -- Each node's text (a SQL step's statement, another node's configuration) and all of them
    -- together: the worker reads the graph into memory for every turn of the instance.
    SELECT max(octet_length(q)), sum(octet_length(q)) INTO v_largest, v_total
      FROM unnest(p_queries) AS q;
    IF v_largest > 1048576 THEN
        SELECT q INTO v_query FROM unnest(p_queries) AS q ORDER BY octet_length(q) DESC LIMIT 1;
        RAISE EXCEPTION 'df.start(): a step''s text is % bytes; the limit is 1048576 bytes (1 MiB)', v_largest
            USING ERRCODE = '54000', DETAIL = format('The step begins: %s', left(v_query, 80));
    END IF;
    IF v_total > 16777216 THEN
        RAISE EXCEPTION 'df.start(): the steps'' texts together are % bytes; the limit is 16777216 bytes (16 MiB)',
            v_total USING ERRCODE = '54000';
    END IF;

    FOR attempt IN 1..10 LOOP
        INSERT INTO df.instances (id, label, root_node, submitted_by, database)
        VALUES (df._new_id(), p_label, p_ids[1], p_role, p_database)
        ON CONFLICT (id) DO NOTHING
        RETURNING id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    IF v_id IS NULL THEN
        RAISE EXCEPTION 'Failed to create instance: exhausted 10 attempts to generate a collision-free ID'
            USING ERRCODE = '55000';
    END IF;

    INSERT INTO df.nodes (id, instance_id, node_type, query, result_name, left_node, right_node,
                          submitted_by, database)
    SELECT n.id, v_id, n.node_type, n.query, n.result_name, n.left_node, n.right_node, p_role, p_database
      FROM unnest(p_ids, p_types, p_queries, p_results, p_lefts, p_rights)
           AS n(id, node_type, query, result_name, left_node, right_node);
    RETURN v_id;
END
$fn$;

-- The role's variables as they are now, in this transaction.
CREATE OR REPLACE FUNCTION df._role_vars(p_role regrole) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN (SELECT coalesce(jsonb_object_agg(v.name, v.value), '{}') FROM df.vars v
             WHERE v.owner = p_role AND v.value IS NOT NULL);
END
$fn$;

-- Starts a graph given as rows, for role p_role, which the caller must show it acts as: rows a
-- caller made up are checked whole by df._launch before anything starts. (df.start goes through
-- df._start_graph, which checks the graph before it writes the rows.)
CREATE OR REPLACE FUNCTION df._start_instance(p_role regrole, p_key uuid, p_label text, p_database text, p_ids text[],
                                   p_types text[], p_queries text[], p_results text[],
                                   p_lefts text[], p_rights text[])
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id text;
BEGIN
    PERFORM df._check_starter(p_role, p_key);
    v_id := df._insert_graph(p_role, p_label, p_database, p_ids, p_types, p_queries, p_results, p_lefts, p_rights);
    -- Validates the submitter, the database and the whole graph, then starts the engine.
    PERFORM df._launch(v_id, df._role_vars(p_role));
    RETURN v_id;
END
$fn$;
-- The public functions run as their caller and call these; each checks for itself that the
-- session may act for the role it is asked to act for (schema USAGE on df is the gate, as for
-- df._signal).
