-- The delivery worker's claim looks at the oldest due deliveries first (by id), and asks of
-- each whether an older one of the same endpoint and customer is still pending: both by
-- index, so a claim costs in proportion to what it looks at, not to every delivery pending.
CREATE INDEX webhook_deliveries_pending_by_id ON webhook_deliveries (id) WHERE status = 'pending';
