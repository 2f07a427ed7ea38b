-- release: 0.2.0
-- df.start checks a graph once: df._start_graph decodes, walks and checks it as its owner and
-- writes the rows from what it checked, instead of df.start checking it as the caller and
-- df._launch checking the written rows again (sql/functions/07_start.sql). For transaction_mode
-- 'new', df.start still checks the graph as its caller before it spends a connection, through
-- df._fut_graph, which df.grant_usage() therefore grants with the other helpers. (The function
-- files grant it to the roles that already have usage; see 99_function_privileges.sql.)
INSERT INTO df._usage_functions (signature) VALUES ('df._fut_graph(text,text,oid)')
ON CONFLICT DO NOTHING;
