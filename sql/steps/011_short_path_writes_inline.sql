-- release: 0.2.0
-- df_engine.complete_and_advance now writes the df graph's statuses itself (one PL/pgSQL call and
-- three statements fewer per step; sql/functions/19_short_path.sql), so its helper goes.
DROP FUNCTION IF EXISTS df._short_path_writes(text, jsonb);
