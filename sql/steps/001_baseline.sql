-- release: 0.1.0
-- The tables, sequences, indexes, types and data of release 0.1.0 as its migrations 001..008
-- left them (sql/releases/0.1.0). Functions, views, triggers, policies, operators and function
-- privileges are in sql/functions. Never edit this file: a database records its checksum.

-- Durable engine store (schema df_engine).
--
-- A general durable-task engine: orchestrations are deterministic code replayed from an
-- append-only history; activities are the side effects. This schema knows nothing of the df
-- control plane, which drives it through the functions at the end of this file.
--
-- Application roles never touch these tables directly. The functions that df calls are
-- SECURITY DEFINER and not executable by PUBLIC, except complete_activity, which is guarded by
-- an unguessable lease token.

CREATE SCHEMA IF NOT EXISTS df_engine;
REVOKE ALL ON SCHEMA df_engine FROM PUBLIC;
-- USAGE lets a SQL step's connection (running as the submitting role) call complete_activity.
GRANT USAGE ON SCHEMA df_engine TO PUBLIC;

CREATE TABLE df_engine.instances (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    status              text NOT NULL DEFAULT 'Pending'
                        CHECK (status IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled')),
    input               text,
    output              text,
    parent_id           text,
    parent_execution_id integer,
    parent_task_id      integer,
    execution_id        integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at        timestamptz,
    CHECK ((status IN ('Completed', 'Failed', 'Cancelled')) = (completed_at IS NOT NULL))
);
CREATE INDEX instances_parent_idx ON df_engine.instances (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX instances_status_idx ON df_engine.instances (status, created_at, id);
CREATE INDEX instances_terminal_age_idx ON df_engine.instances ((coalesce(completed_at, created_at)), id)
    WHERE status IN ('Completed', 'Failed', 'Cancelled');

-- One row per generation; continue-as-new closes one and opens the next.
CREATE TABLE df_engine.executions (
    instance_id  text NOT NULL REFERENCES df_engine.instances (id) ON DELETE CASCADE,
    execution_id integer NOT NULL,
    status       text NOT NULL DEFAULT 'Running'
                 CHECK (status IN ('Running', 'Completed', 'Failed', 'Cancelled', 'ContinuedAsNew')),
    input        text,
    output       text,
    event_count  integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at     timestamptz,
    PRIMARY KEY (instance_id, execution_id)
);

-- Append-only event log of the current generation. Earlier generations' events are dropped
-- at continue-as-new, so history stays bounded however long a loop runs.
CREATE TABLE df_engine.history (
    instance_id  text NOT NULL,
    execution_id integer NOT NULL,
    seq          integer NOT NULL,
    event_type   text NOT NULL,
    task_id      integer,
    name         text,
    payload      text,
    event_time   timestamptz NOT NULL,
    PRIMARY KEY (instance_id, execution_id, seq)
);

-- Messages for orchestrations: starts, activity and child results, timers (visible at their
-- fire time), external events. execution_id NULL means "whichever generation is current".
CREATE TABLE df_engine.orchestrator_queue (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    execution_id integer,
    kind         text NOT NULL,
    task_id      integer,
    name         text,
    payload      text,
    visible_at   timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orchestrator_queue_visible_idx ON df_engine.orchestrator_queue (visible_at);
CREATE INDEX orchestrator_queue_instance_idx ON df_engine.orchestrator_queue (instance_id);

-- Activity work items. A claim sets a lease: owner, a random token, and visible_at pushed to
-- the lease expiry, so an item whose worker died becomes claimable again on its own.
CREATE TABLE df_engine.activity_queue (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id  text NOT NULL,
    execution_id integer NOT NULL,
    task_id      integer NOT NULL,
    name         text NOT NULL,
    input        text,
    visible_at   timestamptz NOT NULL DEFAULT now(),
    lease_owner  text,
    lease_token  uuid,
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (instance_id, execution_id, task_id)
);
CREATE INDEX activity_queue_visible_idx ON df_engine.activity_queue (visible_at);

-- Heartbeat row per running worker.
CREATE TABLE df_engine.workers (
    id           text PRIMARY KEY,
    host         text NOT NULL,
    pid          bigint NOT NULL,
    mode         text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ALL TABLES IN SCHEMA df_engine FROM PUBLIC;

-- Control plane (schema df): tables, row-level security, the graph builders and operators,
-- df.start and the instance control functions, per-role variables, privilege helpers.
--
-- Everything here is SQL and PL/pgSQL: application backends never start a JVM. The API is
-- SQL-compatible with the original pg_durable extension (names, argument names, defaults,
-- strictness, the graph JSON format and error messages).
--
-- Security model. Application roles get schema USAGE and narrow table privileges through
-- df.grant_usage(); row-level security confines them to their own rows. Public functions are
-- SECURITY INVOKER. The steps a role may not take directly (starting and cancelling engine
-- instances) are SECURITY DEFINER helpers named df._*, which re-check that the login role may
-- act for the instance's submitter, so calling a helper directly allows nothing the public
-- wrapper does not. Every df._* function has PUBLIC EXECUTE revoked; df.grant_usage() grants
-- the ones listed in df._usage_functions.

-- Names in this script's DDL (defaults, checks, policies, the view) resolve against pg_catalog
-- only, whatever schemas the installing session's search_path holds; a look-alike operator in a
-- writable schema must not end up inside a policy. The session's setting is restored at the end.

CREATE SCHEMA df;
REVOKE ALL ON SCHEMA df FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE df.instances (
    id           varchar(8) PRIMARY KEY CONSTRAINT instances_id_format_chk CHECK (id ~ '^[0-9a-f]{8}$'),
    label        text,
    root_node    varchar(8) NOT NULL CONSTRAINT instances_root_node_format_chk CHECK (root_node ~ '^[0-9a-f]{8}$'),
    status       text NOT NULL DEFAULT 'pending'
                 CONSTRAINT instances_status_chk
                 CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    submitted_by regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    database     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Set on every terminal status (completed, failed, cancelled): reconciliation ages
    -- instances by coalesce(completed_at, created_at), never by updated_at.
    completed_at timestamptz,
    CONSTRAINT instances_identity_key UNIQUE (id, submitted_by)
);

COMMENT ON COLUMN df.instances.submitted_by IS
    'Effective role (current_user) at df.start(); SQL steps run on a connection authenticated as this role';

CREATE TABLE df.nodes (
    id             varchar(8) NOT NULL CONSTRAINT nodes_id_format_chk CHECK (id ~ '^[0-9a-f]{8}$'),
    instance_id    varchar(8) NOT NULL,
    node_type      text NOT NULL
                   CONSTRAINT nodes_node_type_chk
                   CHECK (node_type IN ('SQL', 'THEN', 'IF', 'JOIN', 'LOOP', 'BREAK', 'RACE', 'SLEEP',
                                        'WAIT_SCHEDULE', 'HTTP', 'HTTP_MULTIPART', 'SIGNAL')),
    query          text,
    result_name    text CONSTRAINT nodes_result_name_chk
                   CHECK (result_name IS NULL OR result_name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    left_node      varchar(8) CONSTRAINT nodes_left_node_format_chk
                   CHECK (left_node IS NULL OR left_node ~ '^[0-9a-f]{8}$'),
    right_node     varchar(8) CONSTRAINT nodes_right_node_format_chk
                   CHECK (right_node IS NULL OR right_node ~ '^[0-9a-f]{8}$'),
    status         text NOT NULL DEFAULT 'pending'
                   CONSTRAINT nodes_status_chk CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    result         jsonb,
    error          text,
    submitted_by   regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    database       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    status_details jsonb,
    CONSTRAINT nodes_pkey PRIMARY KEY (instance_id, id),
    CONSTRAINT nodes_result_status_chk CHECK (result IS NULL OR status IN ('completed', 'failed')),
    CONSTRAINT nodes_structure_chk CHECK (
        CASE
            WHEN node_type IN ('SQL', 'SLEEP', 'WAIT_SCHEDULE', 'BREAK', 'HTTP', 'HTTP_MULTIPART', 'SIGNAL')
                THEN left_node IS NULL AND right_node IS NULL AND query IS NOT NULL
            WHEN node_type = 'THEN'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NULL
            WHEN node_type = 'IF'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NOT NULL
            WHEN node_type = 'LOOP'
                THEN left_node IS NOT NULL AND right_node IS NULL
            WHEN node_type = 'JOIN'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL
            WHEN node_type = 'RACE'
                THEN left_node IS NOT NULL AND right_node IS NOT NULL AND query IS NULL
            ELSE false
        END),
    -- The node belongs to the instance and to the same submitter; deleting the instance
    -- deletes its nodes.
    CONSTRAINT nodes_instance_identity_fkey FOREIGN KEY (instance_id, submitted_by)
        REFERENCES df.instances (id, submitted_by) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
    -- A graph's internal references (a node's children, an instance's root node) are checked by
    -- df.start's launch, in the starting transaction; as foreign keys they made removing expired
    -- instances several times slower (release 0.1.0 dropped them).
);

COMMENT ON COLUMN df.nodes.status_details IS
    'Written by the worker: {"execution_id": "<orchestration id>::<generation>"} of the last transition';

-- Listing, newest first, with id as the keyset tiebreaker (df.list_instances).
CREATE INDEX idx_instances_status ON df.instances (status, created_at DESC, id);
CREATE INDEX idx_instances_created_at ON df.instances (created_at DESC, id);
CREATE INDEX idx_instances_label ON df.instances (label, created_at DESC, id) WHERE label IS NOT NULL;
-- Reconciliation: terminal instances by age.
CREATE INDEX idx_instances_terminal_age ON df.instances ((coalesce(completed_at, created_at)), id)
    WHERE status IN ('completed', 'failed', 'cancelled');

-- Per-role workflow variables, snapshotted by df.start.
CREATE TABLE df.vars (
    name  text NOT NULL,
    value text,
    owner regrole NOT NULL DEFAULT quote_ident(current_user)::regrole,
    CONSTRAINT vars_pkey PRIMARY KEY (owner, name)
);

-- Row-level security: a role sees and changes only its own rows. Not forced, so the schema
-- owner (the worker's login) and superusers see everything.
ALTER TABLE df.instances ENABLE ROW LEVEL SECURITY;

ALTER TABLE df.nodes ENABLE ROW LEVEL SECURITY;

ALTER TABLE df.vars ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON df.instances, df.nodes, df.vars FROM PUBLIC;

-- The df._* functions that application roles must be able to execute, because a public
-- SECURITY INVOKER function calls them. df.grant_usage() grants EXECUTE on each listed
-- function that exists, df.revoke_usage() revokes it. Later migrations add their own rows.
CREATE TABLE df._usage_functions (
    signature text PRIMARY KEY   -- as accepted by to_regprocedure(), e.g. 'df._launch(text,jsonb)'
);
REVOKE ALL ON df._usage_functions FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Graph values ("durable futures")
--
-- A graph value is the JSON text of one node object; children are embedded objects. Output
-- is compact, with the fields in this order: node_type, left_node, right_node,
-- condition_node, extra_nodes, query, result_name; absent fields are omitted. The top level of
-- every operand is re-serialised, children are passed through byte for byte.
-- ---------------------------------------------------------------------------------------------

-- The helpers on the builders' hot path have no SET search_path clause: switching it costs more
-- than their work, and it keeps the SQL ones inlinable. Every function that calls them pins
-- search_path = pg_catalog, pg_temp itself.

-- One node, decoded. Children are kept as their raw JSON text.
CREATE TYPE df._node AS (
    node_type      text,
    left_node      text,
    right_node     text,
    condition_node text,
    extra_nodes    text[],
    query          text,
    result_name    text,
    problem        text    -- why the object is not a well-formed node; NULL when it is
);

-- The helpers the public functions above call as their caller. df._launch and df._cancel are
-- SECURITY DEFINER and re-check the caller themselves; the rest are pure.
INSERT INTO df._usage_functions (signature) VALUES
    ('df._node_types()'),
    ('df._try_json(text)'),
    ('df._json_kind(json)'),
    ('df._decode_node(json)'),
    ('df._render(df._node)'),
    ('df._leaf(text,text)'),
    ('df._mark_non_future(text,text)'),
    ('df._non_future_source(text)'),
    ('df._ensure(text)'),
    ('df._operand(text)'),
    ('df._result_name_problem(text)'),
    ('df._cron_value(text,integer,boolean)'),
    ('df._cron_problem(text)'),
    ('df._cron_expand(text,integer)'),
    ('df._graph_node_problem(df._node,integer)'),
    ('df._node_problem(text,text,boolean,boolean,boolean,text)'),
    ('df._json_compact(json)'),
    ('df._config_with(text,text)'),
    ('df._new_id()'),
    ('df._superuser_instances_enabled()'),
    ('df._check_submitter(oid)'),
    ('df._launch(text,jsonb)'),
    ('df._cancel(text,text)');

INSERT INTO df._usage_functions (signature) VALUES
    ('df._list_instances_max_limit()'),
    ('df._check_list_limit(integer)'),
    ('df._engine_info(text[])'),
    ('df._engine_executions(text,integer)'),
    ('df._decode_list_cursor(text)'),
    ('df._stamp_lineage(text)'),
    ('df._node_statuses(text)'),
    ('df._explain_clip(text,integer,integer)'),
    ('df._explain_label(text,text,text,text,text)'),
    ('df._explain_render(text,jsonb,boolean)'),
    ('df._explain_sequence(text,jsonb)'),
    ('df._explain_graph(df._node)'),
    ('df._explain_decode(text)'),
    ('df._explain_instance(text)'),
    ('df._explain_classify(text)'),
    ('df._explain_evaluate(text)');

-- Graph runtime: signals, and the helpers the worker's graph orchestration calls inside its turns.
--
-- Signals meet their waits here, in df, rather than in the engine: a SIGNAL node may run in the
-- root orchestration, in a JOIN/RACE branch or in a loop iteration (each its own engine instance),
-- and a signal may arrive before, during or after the wait. df.signal hands a signal to the oldest
-- wait for that name, or buffers it; a wait that starts takes the oldest buffered signal. Both
-- sides lock the instance row, so every signal goes to exactly one wait or stays buffered; none is
-- dropped.

CREATE SEQUENCE df.signal_seq;

CREATE TABLE df.signal_buffer (
    seq         bigint PRIMARY KEY DEFAULT nextval('df.signal_seq'),
    instance_id varchar(8) NOT NULL REFERENCES df.instances (id) ON DELETE CASCADE,
    signal_name text NOT NULL,
    data        jsonb,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signal_buffer_lookup_idx ON df.signal_buffer (instance_id, signal_name, seq);

-- One row per wait in progress. event_name is unique to the wait, so a signal routed to a wait
-- that timed out meanwhile can never be consumed by a later wait of the same engine instance:
-- the finishing turn puts it back in the buffer instead.
CREATE TABLE df.signal_waits (
    instance_id     varchar(8) NOT NULL REFERENCES df.instances (id) ON DELETE CASCADE,
    wait_key        text NOT NULL,
    signal_name     text NOT NULL,
    engine_instance text NOT NULL,
    event_name      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    routed_seq      bigint,
    routed_data     jsonb,
    PRIMARY KEY (instance_id, wait_key)
);
CREATE INDEX signal_waits_lookup_idx ON df.signal_waits (instance_id, signal_name, created_at);

REVOKE ALL ON df.signal_buffer, df.signal_waits FROM PUBLIC;

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
