-- release: 0.2.0
-- Reading a role's own instances, and the recently ended ones, in time proportional to what is
-- read rather than to the instances kept.
--
-- Row-level security adds "submitted_by = the calling role" to every read of df.instances; with
-- no index leading with submitted_by, a role's newest-first page (df.list_instances, the
-- dashboard) scanned past every other role's instances: at a million kept instances of another
-- role, 370 ms for an empty page and 860 ms for df.list_instances, 0.07 and 7 ms with the index.
CREATE INDEX IF NOT EXISTS idx_instances_submitter ON df.instances (submitted_by, created_at DESC, id);

-- Statistics on the age reconciliation and the dashboard filter terminal instances by, the
-- expression of idx_instances_terminal_age: without them the planner guesses that a third of the
-- table is recent and scans all of it (about 190 ms at a million instances, where the index takes
-- 2 ms). ANALYZE, autovacuum's included, keeps them current.
CREATE STATISTICS IF NOT EXISTS df.instances_terminal_age_stats ON (coalesce(terminal_at, created_at))
    FROM df.instances;
ANALYZE df.instances;
