-- Limits on the last unbounded inputs: workflow variables and the text of a graph's steps.
--
-- Both are copied into every instance a role starts (the variables as its snapshot, the steps as
-- its nodes) and read by the worker for every turn, so each is bounded, with an error that names
-- the value and the limit, before anything is written. Like the limits of 009 they are fixed.

CREATE OR REPLACE FUNCTION df._setvar(p_role regrole, p_name text, p_value text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_total bigint;
BEGIN
    PERFORM df._check_vars_role(p_role);
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

CREATE OR REPLACE FUNCTION df._start_instance(p_role regrole, p_label text, p_database text, p_ids text[],
                                   p_types text[], p_queries text[], p_results text[],
                                   p_lefts text[], p_rights text[])
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id   text;
    v_vars jsonb;
    v_largest integer;
    v_total   bigint;
    v_query   text;
BEGIN
    IF p_role IS NULL OR NOT coalesce(pg_has_role(session_user, p_role::oid, 'MEMBER'), false) THEN
        RAISE EXCEPTION 'df.start(): session user "%" may not start instances as role %', session_user,
            coalesce(p_role::text, 'NULL') USING ERRCODE = '42501';
    END IF;
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

    -- The role's variables as they are now, in this transaction.
    SELECT coalesce(jsonb_object_agg(v.name, v.value), '{}') INTO v_vars
      FROM df.vars v
     WHERE v.owner = p_role AND v.value IS NOT NULL;

    -- Validates the submitter, the database and the whole graph, then starts the engine.
    PERFORM df._launch(v_id, v_vars);
    RETURN v_id;
END
$fn$;
