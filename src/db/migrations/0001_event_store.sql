-- The event store: an append-only log of immutable events, grouped in streams.
--
-- Global order is (transaction_id, global_position), not global_position alone:
-- sequence values are handed out before commit, so a transaction can commit
-- position 11 while position 10 is still in flight. Readers only see events of
-- transactions older than the oldest one still running
-- (pg_snapshot_xmin(pg_current_snapshot())), so a reader's checkpoint can never
-- move past an event that commits later. The same technique as Marten and Emmett.
CREATE TABLE events (
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  global_position bigint      GENERATED ALWAYS AS IDENTITY,
  event_id        uuid        NOT NULL,
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL,
  type            text        NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  -- The global order is the key: one index fewer to write on every append.
  CONSTRAINT events_global_order PRIMARY KEY (transaction_id, global_position),
  CONSTRAINT events_event_id_unique UNIQUE (event_id),
  CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

-- Appends events to a stream in one round trip.
--   p_expected_version: NULL = any, -1 = the stream must not exist,
--                       -2 = the stream must exist, n >= 0 = the stream's last version must be n.
--   p_events: [{"id": uuid, "type": text, "data": {...}, "metadata": {...}}, ...]
-- Events whose id is already stored are left out (idempotent appends). When all of
-- them are, nothing is written and the outcome is 'already_recorded'.
-- A concurrent writer that slips in between the version check and the insert is
-- caught by events_stream_version_unique; the adapter reports it as a conflict.
CREATE FUNCTION append_to_stream(p_stream_id text, p_expected_version bigint, p_events jsonb)
RETURNS TABLE (outcome text, stream_version bigint, commit_position text, sequence_position bigint,
               already_recorded text[])
LANGUAGE plpgsql AS $$
DECLARE
  v_current bigint;
  v_new jsonb;
  v_known text[];
BEGIN
  SELECT coalesce(jsonb_agg(e ORDER BY ord) FILTER (WHERE NOT known), '[]'::jsonb),
         coalesce(array_agg(e->>'id' ORDER BY ord) FILTER (WHERE known), '{}')
    INTO v_new, v_known
  FROM (SELECT e, ord, EXISTS (SELECT 1 FROM events WHERE event_id = (e->>'id')::uuid) AS known
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)) candidates;

  SELECT max(ev.stream_version) INTO v_current FROM events ev WHERE ev.stream_id = p_stream_id;
  v_current := coalesce(v_current, -1);

  IF jsonb_array_length(v_new) = 0 THEN
    RETURN QUERY
      SELECT 'already_recorded'::text, v_current, ev.transaction_id::text, ev.global_position, v_known
      FROM events ev
      WHERE ev.event_id IN (SELECT (e->>'id')::uuid FROM jsonb_array_elements(p_events) e)
      ORDER BY ev.transaction_id DESC, ev.global_position DESC LIMIT 1;
    RETURN;
  END IF;

  IF (p_expected_version = -1 AND v_current <> -1)
     OR (p_expected_version = -2 AND v_current = -1)
     OR (p_expected_version >= 0 AND v_current <> p_expected_version) THEN
    RETURN QUERY SELECT 'wrong_expected_version'::text, v_current, NULL::text, NULL::bigint, v_known;
    RETURN;
  END IF;

  RETURN QUERY
    WITH inserted AS (
      INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata)
      SELECT (e->>'id')::uuid, p_stream_id, v_current + ord, e->>'type', e->'data', e->'metadata'
      FROM jsonb_array_elements(v_new) WITH ORDINALITY AS x(e, ord)
      RETURNING events.stream_version, events.transaction_id, events.global_position
    )
    SELECT 'appended'::text, max(i.stream_version), max(i.transaction_id)::text, max(i.global_position), v_known
    FROM inserted i;
END;
$$;

-- Group commit: several appends, to any streams, in one round trip and one
-- transaction, so one WAL flush makes them all durable. Each append keeps its own
-- expected-version check and outcome, exactly as if it ran alone, in order; one
-- result row per append, in input order.
--   p_appends: [{"stream": text, "expected": bigint|null, "events": [...]}, ...]
CREATE FUNCTION append_to_streams(p_appends jsonb)
RETURNS TABLE (ordinal bigint, outcome text, stream_version bigint, commit_position text, sequence_position bigint,
               already_recorded text[])
LANGUAGE plpgsql AS $$
DECLARE
  a record;
BEGIN
  FOR a IN SELECT value, ord FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS x(value, ord) LOOP
    RETURN QUERY
      SELECT a.ord, r.* FROM append_to_stream(a.value->>'stream', (a.value->>'expected')::bigint, a.value->'events') r;
  END LOOP;
END;
$$;

-- The verbatim documents facts come from (signed notifications, store API responses),
-- addressed by their content hash so keeping the same document twice stores it once.
CREATE TABLE source_documents (
  document_id  text        PRIMARY KEY,
  kind         text        NOT NULL,
  content_type text        NOT NULL,
  body         text        NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);
