-- Content apps show (workouts, recipes, ...): the summary is always public; the body
-- needs the required entitlement, if any, in the caller's scoped token.
CREATE TABLE content_items (
  content_id           text        PRIMARY KEY,
  kind                 text        NOT NULL,
  title                text        NOT NULL,
  summary              text        NOT NULL,
  body                 text        NOT NULL,
  tags                 text[]      NOT NULL DEFAULT '{}',
  required_entitlement text,
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX content_items_by_kind ON content_items (kind, content_id);
