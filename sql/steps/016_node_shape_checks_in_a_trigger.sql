-- release: 0.2.0
-- df.nodes' six shape checks (the id formats, the node type, the result name, the structure)
-- move into the trigger nodes_check_shape (sql/functions/20_graph_integrity.sql). A CHECK
-- constraint is read back from its stored text and prepared at every statement that writes the
-- table, so each worker update of a node's status paid for all six although it never touches
-- the columns they check: about 0.05 ms per statement, a tenth of what a df step's completion
-- cost. The trigger checks the same rows, inserted or with one of those columns updated, and
-- raises what the constraints raised.
ALTER TABLE df.nodes
    DROP CONSTRAINT IF EXISTS nodes_id_format_chk,
    DROP CONSTRAINT IF EXISTS nodes_left_node_format_chk,
    DROP CONSTRAINT IF EXISTS nodes_node_type_chk,
    DROP CONSTRAINT IF EXISTS nodes_result_name_chk,
    DROP CONSTRAINT IF EXISTS nodes_right_node_format_chk,
    DROP CONSTRAINT IF EXISTS nodes_structure_chk;
