-- The worker's acknowledgement, as a function that tells PostgreSQL how to find the messages.
--
-- Its cost must follow the batch, never the backlog. As a plain statement joining the
-- batch to the queue, the plan kept from a small queue read every pending message through
-- the pending index: with 20,000 waiting, 406 pages to acknowledge two of them, more as
-- the backlog grew, which is when acknowledgements must cost least. Here the messages are
-- found through the primary key only, one probe each:
-- - no join, no sequential or bitmap scan;
-- - "not done, not dead" rather than "pending" (the same, by the table's check), so that
--   no partial index on pending messages can serve, and be walked whole.
CREATE FUNCTION intake_ack(p_message_ids bigint[], p_receipts uuid[])
RETURNS integer
LANGUAGE sql
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
  WITH acked AS (
    UPDATE intake_messages m
    SET state = 'done', receipt = NULL, finished_at = now(), last_error = NULL
    WHERE m.message_id = ANY (p_message_ids)
      AND m.state NOT IN ('done', 'dead')
      AND m.receipt = p_receipts[array_position(p_message_ids, m.message_id)]
    RETURNING 1
  )
  SELECT count(*)::integer FROM acked
$$;
