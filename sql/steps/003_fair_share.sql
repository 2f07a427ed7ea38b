-- release: 0.2.0
-- Fair share between submitters.
--
-- Work items were claimed first in, first out: a role that queued 100,000 instances made another
-- role's one-step workflow wait for all of them. Every queued item now carries a partition key,
-- an opaque text the engine only groups by; workers claim round-robin across keys (the oldest
-- few items of each key, through the (partition_key, visible_at) indexes below), so a key with a
-- long backlog cannot push a newcomer's item behind it.
--
-- Where the key comes from:
--   - an instance's key is set when it is created: start_orchestration leaves the column default,
--     the login role (session_user) of the starting session, which a session cannot change;
--     a sub-orchestration takes its parent's key (the worker sets it);
--   - a message for an orchestration (start, result, timer, event, cancel) takes its instance's
--     key, filled in by the trigger below unless the inserter gave one;
--   - an activity item takes the key the orchestration gave when it scheduled it (the df graph
--     gives the submitting role), else its instance's key (the worker sets it).
-- Items queued before this migration have the key '' and are served like any other key.

ALTER TABLE df_engine.instances
    ADD COLUMN partition_key text NOT NULL DEFAULT session_user;
COMMENT ON COLUMN df_engine.instances.partition_key IS
    'Fairness key: turns and activity items are claimed round-robin across keys. Default: the login role that started the instance; children inherit their parent''s.';

ALTER TABLE df_engine.orchestrator_queue
    ADD COLUMN partition_key text;
UPDATE df_engine.orchestrator_queue SET partition_key = '';
ALTER TABLE df_engine.orchestrator_queue
    ALTER COLUMN partition_key SET NOT NULL;
CREATE INDEX orchestrator_queue_partition_idx ON df_engine.orchestrator_queue (partition_key, visible_at);

ALTER TABLE df_engine.activity_queue
    ADD COLUMN partition_key text NOT NULL DEFAULT '';
-- The claim reads the queue per key, oldest first; the plain visible_at index had no other use.
DROP INDEX df_engine.activity_queue_visible_idx;
CREATE INDEX activity_queue_partition_idx ON df_engine.activity_queue (partition_key, visible_at);
