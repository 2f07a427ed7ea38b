-- release: 0.2.0
-- Vacuum no longer shrinks the two queue tables. They empty and fill all the time, and vacuum
-- used to truncate an emptied one to no pages at all. A worker's connections plan their claims
-- once and keep the plan, and a plan made while a queue had no pages expected it to stay empty:
-- it read the whole queue, with a sequential scan and a sort per partition key, at every claim
-- once the queue had filled again, until the next automatic ANALYZE (14 scans and 12,000 rows
-- read for one claim of 16 items with 3,000 queued; see FairClaimTest). A queue that keeps the
-- pages it had plans as the table it was, and reads by index. The pages are reused by the rows
-- that come next; VACUUM FULL still gives them back.
ALTER TABLE df_engine.activity_queue SET (vacuum_truncate = false);
ALTER TABLE df_engine.orchestrator_queue SET (vacuum_truncate = false);
