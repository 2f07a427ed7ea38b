-- release: 0.2.0
-- df.start(..., transaction_mode => 'new') opens a second backend for the start, as a superuser
-- that then acts as the calling role. At most pg_durable.max_new_transaction_starts (1 to 100)
-- of them run at once in a database: each holds one of these owner-only named locks while it
-- runs (see df._start_new_transaction), which no other role can take or hold.
INSERT INTO df_engine.locks (name)
SELECT 'new_transaction_start:' OPERATOR(pg_catalog.||) g::pg_catalog.text
  FROM pg_catalog.generate_series(1, 100) AS g
ON CONFLICT DO NOTHING;
