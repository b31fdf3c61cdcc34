-- The intake queue: verified store notifications waiting to be processed.
-- SQS-shaped, so an SQS implementation can replace it: at-least-once delivery,
-- a visibility timeout, a deduplication id, and an ordering key whose messages are
-- handed out one at a time, oldest first (SQS FIFO message groups).
--
-- Rows stay after processing ('done'): they are the deduplication record, so a
-- notification delivered again days later is recognised, and support can see it.
CREATE TABLE intake_messages (
  message_id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  deduplication_id text        NOT NULL,
  ordering_key     text        NOT NULL,
  kind             text        NOT NULL,
  document_id      text        NOT NULL REFERENCES source_documents (document_id),
  state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
  attempts         integer     NOT NULL DEFAULT 0,
  visible_at       timestamptz NOT NULL DEFAULT now(),
  receipt          uuid,
  last_error       text,
  enqueued_at      timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  CONSTRAINT intake_messages_deduplication_unique UNIQUE (deduplication_id)
);
-- The head of each ordering group, among pending messages.
CREATE INDEX intake_messages_pending ON intake_messages (ordering_key, message_id) WHERE state = 'pending';
CREATE INDEX intake_messages_dead ON intake_messages (finished_at) WHERE state = 'dead';
