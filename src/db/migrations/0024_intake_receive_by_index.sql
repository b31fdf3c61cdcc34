-- The worker's receive, as a function that tells PostgreSQL how to read the queue.
--
-- Its cost must follow the batch, never the backlog. The planner cannot know how many
-- messages are pending: the statistics lag behind a queue that fills in seconds (last
-- analyzed while it was empty, or while every message was done), and every plan looks
-- cheap for the few rows it expects. Those it chose read every pending message for each
-- receive: sequential or bitmap scans with a sort (a drain of 8,000 read 11,800 pages a
-- receive), or, for the group probe, a walk of the whole queue in order to find each
-- message's group (a drain of 20,000: 49,000 pages a receive, 35 ms). So here the queue is
-- read only through its indexes, in order, and the walk stops at the batch:
-- - no sequential or bitmap scans, and no sorts, while the function runs;
-- - the messages chosen are updated by their keys, not through a join;
-- - the oldest-first index carries a condition only the walk states (attempts >= 0,
--   always true), so "the oldest pending message of this group" can only be a probe of
--   the group index (intake_messages_pending).
--
-- Only the oldest pending message of each ordering group goes out, and only when it is
-- visible: while it is in flight, the rest of its group waits. "The oldest of its group"
-- is a scalar subquery, not NOT EXISTS, which the planner may turn into an anti-join
-- comparing every pending message with every older one (19 s a receive with 17,000
-- waiting, in a plan kept from an empty queue).
DROP INDEX intake_messages_pending_order;
CREATE INDEX intake_messages_pending_order ON intake_messages (message_id) WHERE state = 'pending' AND attempts >= 0;

CREATE FUNCTION intake_receive(p_max integer, p_visibility_timeout_ms float8)
RETURNS SETOF intake_messages
LANGUAGE sql
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
  WITH chosen AS (
    SELECT m.message_id FROM intake_messages m
    WHERE m.state = 'pending' AND m.attempts >= 0 AND m.visible_at <= now()
      AND m.message_id = (
        SELECT min(oldest.message_id) FROM intake_messages oldest
        WHERE oldest.state = 'pending' AND oldest.ordering_key = m.ordering_key)
    ORDER BY m.message_id
    LIMIT p_max
    FOR UPDATE OF m SKIP LOCKED
  )
  UPDATE intake_messages m
  SET attempts = m.attempts + 1,
      receipt = gen_random_uuid(),
      visible_at = now() + make_interval(secs => p_visibility_timeout_ms / 1000)
  -- A list of keys rather than a join, whose order the planner would pick from its estimates
  -- (it walked the whole table for each one chosen).
  WHERE m.message_id = ANY (ARRAY(SELECT message_id FROM chosen))
  RETURNING m.*;
$$;
