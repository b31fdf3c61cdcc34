-- Every purchase stream an app user was ever linked to or claimed: its owner now, former
-- owners (transfers, restores on another account), refused claimants. Support reads a
-- customer's whole history from these streams, not only the purchases they own today.
-- Part of the purchases read model: written with it, rebuilt with it.
CREATE TABLE customer_streams (
  app_user_id text NOT NULL,
  stream_id   text NOT NULL,
  PRIMARY KEY (app_user_id, stream_id)
);

-- The read model as it stands: every app user its folded states name.
INSERT INTO customer_streams (app_user_id, stream_id)
SELECT DISTINCT app_user_id, stream_id FROM (
  SELECT link->'value'->>'appUserId' AS app_user_id, stream_id
    FROM purchases, jsonb_array_elements(state->'links') AS link
  UNION ALL
  SELECT claim->'value'->>'appUserId', stream_id
    FROM purchases, jsonb_array_elements(state->'refusedClaims') AS claim
) named
WHERE app_user_id IS NOT NULL
ON CONFLICT DO NOTHING;
