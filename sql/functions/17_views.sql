-- Worker heartbeats, for administrators.
CREATE OR REPLACE VIEW df.workers AS
    SELECT w.id, w.host, w.pid, w.mode, w.started_at, w.last_seen_at
      FROM df_engine.workers w;
REVOKE ALL ON df.workers FROM PUBLIC;

-- The original's worker-liveness table, under its name, so its documented query runs unchanged:
-- one row per running worker (the original has one worker), superusers only as there.
CREATE OR REPLACE VIEW df._worker_epoch AS
    SELECT w.id AS epoch_id, w.started_at, w.last_seen_at
      FROM df_engine.workers w;
REVOKE ALL ON df._worker_epoch FROM PUBLIC;
