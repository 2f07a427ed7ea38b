-- release: 0.2.0
-- df.instance_history reads an instance's engine history through df._engine_history, which
-- df.grant_usage() grants with the other helpers (and 99_function_privileges.sql grants to the
-- roles that already have usage).
INSERT INTO df._usage_functions (signature) VALUES ('df._engine_history(text,integer,integer,regrole,uuid)')
ON CONFLICT DO NOTHING;
