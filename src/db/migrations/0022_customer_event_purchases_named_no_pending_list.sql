-- A GIN index gathers new entries in a pending list (up to 4 MB) and merges them in bulk
-- later; until then every search reads the whole list. The customer-events projection
-- inserts and searches this index in every batch, so the list was read again and again:
-- 3.7 ms a lookup at 500 notifications/s, returning nothing. Entries now go straight into
-- the index, which costs each insert a little and keeps each lookup a probe per id.
ALTER INDEX customer_event_purchases_named SET (fastupdate = off);
