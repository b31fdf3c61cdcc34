-- The read model answers for any moment: readers compute a purchase's status at the
-- instant they are asked about, from its merged `state`. A stored status was computed
-- for no particular moment, and read as if it held for ever (a renewal charged before
-- its period began ended the period still running), so it goes.
--
-- What stays beside the state is the purchase's latest period, every known fact applied
-- (`access_from`, `access_until`, `lifetime_access`, `will_renew`): for jobs that look for
-- purchases by their latest state (the App Store re-check of lapsed subscriptions), never
-- for answers.
ALTER TABLE purchases ADD COLUMN will_renew boolean NOT NULL DEFAULT false;
UPDATE purchases SET will_renew = coalesce((status->>'willRenew')::boolean, false);
ALTER TABLE purchases DROP COLUMN status;
