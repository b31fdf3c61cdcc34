-- The SQS intake queue's memory (src/intake/sqs-intake-queue.ts). The messages themselves
-- live in SQS; PostgreSQL keeps what SQS cannot: which deduplication ids were ever sent
-- (SQS forgets after five minutes), and the dead letters, listed and retried by support
-- (an SQS queue cannot be listed, only received from).
CREATE TABLE intake_sqs_messages (
  deduplication_id text        PRIMARY KEY,
  -- SQS's id of the message last sent for it (a retried dead letter is sent again).
  message_id       text        NOT NULL UNIQUE,
  ordering_key     text        NOT NULL,
  kind             text        NOT NULL,
  document_id      text        NOT NULL REFERENCES source_documents (document_id),
  enqueued_at      timestamptz NOT NULL DEFAULT now(),
  -- Set while it is a dead letter: when, after how many deliveries, and why.
  dead_at          timestamptz,
  attempts         integer,
  reason           text
);
CREATE INDEX intake_sqs_messages_dead ON intake_sqs_messages (dead_at) WHERE dead_at IS NOT NULL;
