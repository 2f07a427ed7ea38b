-- release: 0.2.0
-- HTTP steps: the builders and df.start's graph walk check an HTTP node's config with
-- df._http_problem, which they call as their caller; df.grant_usage() grants it with the other
-- helpers. (The function files grant it to the roles that already have usage; see
-- 99_function_privileges.sql.)
INSERT INTO df._usage_functions (signature) VALUES ('df._http_problem(text,json)')
ON CONFLICT DO NOTHING;
