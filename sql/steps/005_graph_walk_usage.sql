-- release: 0.2.0
-- df.start and df.explain share one walk of the graph, df._graph_walk, which df.start calls as
-- its caller: df.grant_usage() grants it with the other helpers. (The function files grant it to
-- the roles that already have usage; see 99_function_privileges.sql.)
INSERT INTO df._usage_functions (signature) VALUES ('df._graph_walk(df._node,boolean)')
ON CONFLICT DO NOTHING;
