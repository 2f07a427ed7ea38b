-- A graph's internal references (a node's children, an instance's root node) are checked by
-- df.start's launch, in the starting transaction, before anything runs; the engine then works on
-- a copy of the graph. As foreign keys they cost two lookups per node at every commit that
-- deletes nodes, which made removing expired instances several times slower than it needs to
-- be. The foreign key from nodes to their instance stays.

ALTER TABLE df.nodes DROP CONSTRAINT nodes_left_node_same_instance_fkey;
ALTER TABLE df.nodes DROP CONSTRAINT nodes_right_node_same_instance_fkey;
ALTER TABLE df.instances DROP CONSTRAINT instances_root_node_same_instance_fkey;
