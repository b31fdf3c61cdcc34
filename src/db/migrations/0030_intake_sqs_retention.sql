-- The SQS queue's record of the messages it sent is forgotten after the retention period
-- too (INTAKE_RETENTION_DAYS), as the PostgreSQL queue's processed messages are (migration
-- 0028): it was kept for good, only to answer a store's redelivery as a duplicate. Dead
-- letters stay. The old ones are found through an index on when they were sent.
CREATE INDEX intake_sqs_messages_enqueued ON intake_sqs_messages (enqueued_at);
