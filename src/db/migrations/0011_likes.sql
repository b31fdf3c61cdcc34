-- Who liked what (the truth: one row per user and item, so liking twice is nothing),
-- and the counts, split over 16 shards per item: concurrent likers of a popular item
-- update different rows instead of queueing on one. A count is the sum of its shards.
CREATE TABLE content_likes (
  content_id  text        NOT NULL REFERENCES content_items (content_id) ON DELETE CASCADE,
  app_user_id text        NOT NULL,
  liked_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (content_id, app_user_id)
);
CREATE TABLE content_like_counts (
  content_id text     NOT NULL REFERENCES content_items (content_id) ON DELETE CASCADE,
  shard      smallint NOT NULL,
  likes      bigint   NOT NULL DEFAULT 0,
  PRIMARY KEY (content_id, shard)
);
