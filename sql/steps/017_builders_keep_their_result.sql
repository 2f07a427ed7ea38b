-- release: 0.2.0
-- The combinators keep their result for the next one (df._built, sql/functions/02_values.sql),
-- which takes it as it is instead of decoding it again: a chain of n steps built with ~> no
-- longer costs O(n^2). The builders run as their caller, so df.grant_usage() grants the new
-- helper with the others. (The function files grant it to the roles that already have usage;
-- see 99_function_privileges.sql.)
INSERT INTO df._usage_functions (signature) VALUES ('df._built(text)')
ON CONFLICT DO NOTHING;
