-- Processed intake messages are forgotten after a retention period (INTAKE_RETENTION_DAYS):
-- they were kept for good, only to answer a store's redelivery as a duplicate, and at
-- 1,000 notifications a second that is 86 million rows a day.
--
-- The old ones are found through an index on when they were queued, so each purge reads
-- what it forgets, not the queue. (A BRIN index would cost less to keep, but its ranges
-- keep their oldest time after their rows are gone: the purge would come to read the whole
-- table every time.) It costs each enqueue one more index entry.
CREATE INDEX intake_messages_enqueued ON intake_messages (enqueued_at);
