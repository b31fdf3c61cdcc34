-- The customer-events projection asks, once a batch, for every purchase that names any of
-- the batch's customers (`named && $1`, up to a few hundred ids). PostgreSQL cannot estimate
-- how few rows overlap a list of ids it has never seen, and below some hundred thousand
-- purchases it chose a sequential scan that compares every purchase with every id: 6.5 ms a
-- batch at 500 notifications/s, a tenth of the database's time, and growing with the table.
-- The GIN index answers it in a probe per id whatever the table's size, so this lookup uses
-- it always (a setting of the function, for its one statement only).
CREATE FUNCTION customer_event_purchases_naming(app_user_ids text[])
RETURNS TABLE (stream_id text, state jsonb, named text[])
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
  SELECT p.stream_id, p.state, p.named FROM customer_event_purchases p WHERE p.named && app_user_ids
$$;
