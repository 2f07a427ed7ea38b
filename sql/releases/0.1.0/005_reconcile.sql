-- Reconciliation (see io.pgdurable.reconcile.Reconciler): every pass, periodic or on demand, is
-- recorded here. The reconciler keeps the newest rows and deletes the rest, so this table stays
-- bounded too.

CREATE TABLE df.reconcile_runs (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger                text NOT NULL CHECK (trigger IN ('worker', 'sql', 'cli')),
    worker_id              text,
    started_at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at            timestamptz,
    retention_days         integer,
    instances_removed      bigint NOT NULL DEFAULT 0,
    nodes_removed          bigint NOT NULL DEFAULT 0,
    engine_records_retired bigint NOT NULL DEFAULT 0,
    orphans_reclaimed      bigint NOT NULL DEFAULT 0,
    error                  text
);
CREATE INDEX reconcile_runs_trigger_idx ON df.reconcile_runs (trigger, started_at DESC);

REVOKE ALL ON df.reconcile_runs FROM PUBLIC;

COMMENT ON TABLE df.reconcile_runs IS
    'One row per reconciliation pass: what it removed, the retention it used, and its error if it failed';
