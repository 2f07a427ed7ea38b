-- What the foreign key from df.nodes (instance_id, submitted_by) to df.instances (id, submitted_by)
-- kept, now that migration 013 dropped it. The key checked every new node when df.start's
-- transaction committed: 19 lookups for a ten-step workflow, about two statements per step of a
-- df workload, for a fact that holds by construction. df._insert_graph is the only writer of
-- df.nodes (no role but the owner has a write privilege on it), and it inserts the instance and
-- then the instance's nodes, with that instance's id and submitter, in one function.
--
-- * Neither a node's instance and submitter nor an instance's id and submitter change: the
--   triggers below refuse it (they fire only on an UPDATE that names those columns, which the
--   worker's updates never do).
-- * Deleting instances deletes their nodes and their buffered signals, once per DELETE.

-- Refuses a change of the columns that tie nodes to their instance.
CREATE OR REPLACE FUNCTION df._refuse_identity_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_TABLE_NAME = 'nodes' THEN
        RAISE EXCEPTION 'a node''s instance and submitter do not change (node % of instance %)', OLD.id, OLD.instance_id
            USING ERRCODE = '23503', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    RAISE EXCEPTION 'an instance''s id and submitter do not change (instance %)', OLD.id
        USING ERRCODE = '23503', TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
END
$fn$;
REVOKE ALL ON FUNCTION df._refuse_identity_change() FROM PUBLIC;
DROP TRIGGER IF EXISTS nodes_keep_instance ON df.nodes;
CREATE TRIGGER nodes_keep_instance BEFORE UPDATE OF instance_id, submitted_by ON df.nodes
    FOR EACH ROW
    WHEN (OLD.instance_id IS DISTINCT FROM NEW.instance_id OR OLD.submitted_by IS DISTINCT FROM NEW.submitted_by)
    EXECUTE FUNCTION df._refuse_identity_change();
DROP TRIGGER IF EXISTS instances_keep_identity ON df.instances;
CREATE TRIGGER instances_keep_identity BEFORE UPDATE OF id, submitted_by ON df.instances
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.submitted_by IS DISTINCT FROM NEW.submitted_by)
    EXECUTE FUNCTION df._refuse_identity_change();

-- Deleted instances take their nodes and buffered signals with them (their signal waits go
-- through signal_waits' own foreign key). The ids are looked up by index, however many.
CREATE OR REPLACE FUNCTION df._delete_rows_of_deleted_instances() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_ids text[];
BEGIN
    SELECT array_agg(d.id) INTO v_ids FROM deleted_instances d;
    IF v_ids IS NOT NULL THEN
        DELETE FROM df.nodes n WHERE n.instance_id = ANY (v_ids);
        DELETE FROM df.signal_buffer b WHERE b.instance_id = ANY (v_ids);
    END IF;
    RETURN NULL;
END
$fn$;
REVOKE ALL ON FUNCTION df._delete_rows_of_deleted_instances() FROM PUBLIC;
DROP TRIGGER IF EXISTS instances_delete_rows ON df.instances;
CREATE TRIGGER instances_delete_rows AFTER DELETE ON df.instances
    REFERENCING OLD TABLE AS deleted_instances
    FOR EACH STATEMENT EXECUTE FUNCTION df._delete_rows_of_deleted_instances();

-- The shape of a node row, checked when it is inserted or one of the columns that make its shape
-- is updated (status updates, the worker's writes, touch none of them): the checks the columns
-- had as CHECK constraints until step 016, in the constraints' (name) order, raising the error
-- PostgreSQL raised for them. A NULL in a NOT NULL column is left to that constraint, as before.
CREATE OR REPLACE FUNCTION df._check_node_shape() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_failed text;
BEGIN
    IF NEW.id !~ '^[0-9a-f]{8}$' THEN
        v_failed := 'nodes_id_format_chk';
    ELSIF NEW.left_node !~ '^[0-9a-f]{8}$' THEN
        v_failed := 'nodes_left_node_format_chk';
    ELSIF NOT NEW.node_type = ANY (df._node_types()) THEN
        v_failed := 'nodes_node_type_chk';
    ELSIF NEW.result_name !~ '^[A-Za-z_][A-Za-z0-9_]*$' THEN
        v_failed := 'nodes_result_name_chk';
    ELSIF NEW.right_node !~ '^[0-9a-f]{8}$' THEN
        v_failed := 'nodes_right_node_format_chk';
    ELSIF NOT (CASE
                  WHEN NEW.node_type IN ('SQL', 'SLEEP', 'WAIT_SCHEDULE', 'BREAK', 'HTTP', 'HTTP_MULTIPART', 'SIGNAL')
                      THEN NEW.left_node IS NULL AND NEW.right_node IS NULL AND NEW.query IS NOT NULL
                  WHEN NEW.node_type = 'THEN'
                      THEN NEW.left_node IS NOT NULL AND NEW.right_node IS NOT NULL AND NEW.query IS NULL
                  WHEN NEW.node_type = 'IF'
                      THEN NEW.left_node IS NOT NULL AND NEW.right_node IS NOT NULL AND NEW.query IS NOT NULL
                  WHEN NEW.node_type = 'LOOP'
                      THEN NEW.left_node IS NOT NULL AND NEW.right_node IS NULL
                  WHEN NEW.node_type = 'JOIN'
                      THEN NEW.left_node IS NOT NULL AND NEW.right_node IS NOT NULL
                  WHEN NEW.node_type = 'RACE'
                      THEN NEW.left_node IS NOT NULL AND NEW.right_node IS NOT NULL AND NEW.query IS NULL
                  ELSE NEW.node_type IS NULL
              END) THEN
        v_failed := 'nodes_structure_chk';
    END IF;
    IF v_failed IS NOT NULL THEN
        RAISE EXCEPTION 'new row for relation "%" violates check constraint "%"', TG_TABLE_NAME, v_failed
            USING ERRCODE = '23514', CONSTRAINT = v_failed, TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA,
                  DETAIL = format('The failing row is node %s of instance %s.', NEW.id, NEW.instance_id);
    END IF;
    RETURN NEW;
END
$fn$;
REVOKE ALL ON FUNCTION df._check_node_shape() FROM PUBLIC;
DROP TRIGGER IF EXISTS nodes_check_shape ON df.nodes;
CREATE TRIGGER nodes_check_shape BEFORE INSERT OR UPDATE OF id, node_type, query, result_name, left_node, right_node
    ON df.nodes FOR EACH ROW EXECUTE FUNCTION df._check_node_shape();
