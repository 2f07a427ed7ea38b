-- release: 0.2.0
-- The orchestrator queue loses its index on visible_at alone, as the activity queue did in step
-- 003. A turn claim reads each partition key's due messages through (partition_key, visible_at),
-- and a plan made while the queue looked empty (see step 014) chose the visible_at index for that
-- per-key scan instead and filtered by key: every message of the key read at every claim.
-- Without the index only the per-key scan orders by visible_at. The worker's look for the next
-- message due walks the partition keys through the same index (TurnStore.nextMessageDue).
DROP INDEX IF EXISTS df_engine.orchestrator_queue_visible_idx;
