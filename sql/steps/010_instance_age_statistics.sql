-- release: 0.2.0
-- Statistics on the age reconciliation and the dashboard filter terminal instances by, the
-- expression of idx_instances_terminal_age: without them the planner guesses that a third of the
-- table is recent and scans all of it (about 190 ms at a million instances, where the index takes
-- 2 ms). ANALYZE, autovacuum's included, keeps them current.
CREATE STATISTICS IF NOT EXISTS df.instances_terminal_age_stats ON (coalesce(terminal_at, created_at))
    FROM df.instances;
ANALYZE df.instances;
