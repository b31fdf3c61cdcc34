-- Secret API keys for servers and support tools. Only a SHA-256 of each key is kept:
-- the key itself is shown once, when it is created.
CREATE TABLE api_keys (
  key_id     text        PRIMARY KEY,
  name       text        NOT NULL,
  role       text        NOT NULL CHECK (role IN ('app-server', 'admin')),
  key_hash   text        NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
