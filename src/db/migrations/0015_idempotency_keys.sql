-- Answers of admin writes sent with an Idempotency-Key, so that a retry gets the first
-- answer instead of doing the work again, on whichever instance it lands. A key belongs
-- to one API key, route and customer. The row is written before the work starts (that
-- is what stops a concurrent retry); `status` stays null until the answer is known.
-- Rows older than 24 hours are forgotten (and purged).
CREATE TABLE idempotency_keys (
  credential   text        NOT NULL, -- the API key's id
  route        text        NOT NULL, -- method and route pattern
  app_user_id  text        NOT NULL,
  key          text        NOT NULL,
  request_hash text        NOT NULL, -- sha256 of the request's parameters, query and body
  claim_id     uuid        NOT NULL, -- which request holds the row (a takeover gets a new one)
  created_at   timestamptz NOT NULL DEFAULT now(),
  status       integer,
  content_type text,
  body         text,
  PRIMARY KEY (credential, route, app_user_id, key)
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
