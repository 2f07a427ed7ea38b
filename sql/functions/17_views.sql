-- Worker heartbeats, for administrators.
CREATE OR REPLACE VIEW df.workers AS
    SELECT w.id, w.host, w.pid, w.mode, w.started_at, w.last_seen_at
      FROM df_engine.workers w;
REVOKE ALL ON df.workers FROM PUBLIC;
