-- release: 0.2.0
-- df.nodes loses its foreign key to df.instances. The key checked each new node when df.start's
-- transaction committed (19 lookups for a ten-step workflow, about two of the six and a half
-- statements per step of the bench's df workload) for a fact that holds by construction: only
-- df._insert_graph writes nodes, right after their instance, with its id and submitter. What else
-- the key did is done by triggers in sql/functions/20_graph_integrity.sql: neither side's key
-- changes, and deleting an instance deletes its nodes. The trigger that deleted an instance's
-- buffered signals now does both, under a new name.
ALTER TABLE df.nodes DROP CONSTRAINT IF EXISTS nodes_instance_identity_fkey;
DROP TRIGGER IF EXISTS instances_delete_signals ON df.instances;
DROP FUNCTION IF EXISTS df._delete_signals_of_deleted_instances();
