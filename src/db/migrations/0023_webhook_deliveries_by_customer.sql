-- Support staff read one customer's outgoing webhook deliveries, to every endpoint, newest
-- first (GET /v1/admin/customers/{appUserId}/webhook-deliveries, the console). Without this
-- index that read scans every delivery ever made.
CREATE INDEX webhook_deliveries_by_customer ON webhook_deliveries (app_user_id, id DESC);
