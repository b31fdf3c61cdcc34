import type { DatabaseError } from 'pg';
import { GroupCommit, type Pending } from '../../db/group-commit.ts';
import { PerTurnReads } from '../../db/per-turn-reads.ts';
import type { Queryable } from '../../db/pool.ts';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  assertAppendable,
} from '../event-store.ts';
import { START, type GlobalPosition } from '../global-position.ts';

interface EventRow {
  event_id: string;
  stream_id: string;
  stream_version: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
  commit_position: string;
  sequence_position: string;
}

interface AppendRow {
  outcome: 'appended' | 'already_recorded' | 'wrong_expected_version';
  stream_version: string;
  commit_position: string | null;
  sequence_position: string | null;
  already_recorded: string[];
}

interface AppendRequest {
  readonly streamId: string;
  readonly expectedVersion: ExpectedVersion;
  readonly events: readonly NewEvent[];
}

const EVENT_COLUMNS = `event_id, stream_id, stream_version, type, data, metadata, recorded_at,
  transaction_id::text AS commit_position, global_position AS sequence_position`;
/** How many times an append is run again after racing another writer (same event ids, or 'any'). */
const RACE_RETRIES = 3;
const ANY_RACE_RETRIES = 100;
/** Appends sent together at most, when callers append concurrently. */
const MAX_GROUP = 200;

/**
 * The PostgreSQL event store (schema in src/db/migrations/0001_event_store.sql).
 *
 * Appends are group-committed: those that arrive while another is being committed go
 * together (append_to_streams), each with its own expected-version check, idempotency
 * and outcome; a lone writer appends alone (append_to_stream).
 */
export class PostgresEventStore implements EventStore {
  private readonly appendListeners = new Set<() => void>();
  private readonly appends = new GroupCommit<AppendRequest, AppendResult>({
    maxGroup: MAX_GROUP,
    commitTogether: (group) => this.appendTogether(group),
    commitAlone: (request) => this.appendAlone(request),
    afterCommit: () => {
      for (const listener of this.appendListeners) listener();
    },
  });

  /**
   * Whole streams asked for in the same turn, read in one query: a worker deciding a batch
   * of notifications reads each one's stream at once.
   */
  private readonly streamReads = new PerTurnReads<string, RecordedEvent[]>((streamIds) => this.readStreams(streamIds));

  private readonly db: Queryable;

  constructor(db: Queryable) {
    this.db = db;
  }

  /** Calls `listener` after appends commit (to wake projections in this process). Returns an unsubscribe. */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** How many events the store holds (exact; for progress bars of whole-log work). */
  async countEvents(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM events');
    return Number(rows[0]!.n);
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    { expectedVersion }: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult> {
    assertAppendable(streamId, events, expectedVersion); // before anything is queued
    return this.appends.submit({ streamId, expectedVersion, events });
  }

  /** One statement for the group. A failure (it raced a writer in another process, say) wrote nothing. */
  private async appendTogether(group: readonly Pending<AppendRequest, AppendResult>[]): Promise<void> {
    const { rows } = await this.db.query<AppendRow & { ordinal: string }>({
      name: 'events-append-together',
      text: 'SELECT * FROM append_to_streams($1::jsonb) ORDER BY ordinal',
      values: [
        JSON.stringify(
          group.map(({ request }) => ({
            stream: request.streamId,
            expected: toSqlExpectedVersion(request.expectedVersion),
            events: request.events,
          })),
        ),
      ],
    });
    for (const [i, { request, resolve, reject }] of group.entries()) {
      try {
        resolve(toAppendResult(request, rows[i]!));
      } catch (error) {
        reject(error);
      }
    }
  }

  private async appendAlone(request: AppendRequest): Promise<AppendResult> {
    const { streamId, expectedVersion, events } = request;
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await this.db.query<AppendRow>({
          name: 'events-append',
          text: 'SELECT * FROM append_to_stream($1, $2, $3::jsonb)',
          values: [streamId, toSqlExpectedVersion(expectedVersion), JSON.stringify(events)],
        });
        return toAppendResult(request, rows[0]!);
      } catch (error) {
        const constraint = (error as DatabaseError).constraint;
        // Another writer stored one of these very events between our check and our insert:
        // run again, and the function reports them as already recorded.
        if (constraint === 'events_event_id_unique' && attempt < RACE_RETRIES) continue;
        // 'any' promises no conflict: another writer took the version we read, so read again.
        // Each lost race means another append went through, so this ends.
        if (constraint === 'events_stream_version_unique' && expectedVersion === 'any' && attempt < ANY_RACE_RETRIES) {
          continue;
        }
        if (constraint === 'events_stream_version_unique') {
          throw new WrongExpectedVersionError(streamId, expectedVersion, await this.currentVersion(streamId));
        }
        throw error;
      }
    }
  }

  async readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<RecordedEvent[]> {
    const fromVersion = options.fromVersion ?? 0;
    if (fromVersion === 0) return this.streamReads.read(streamId);
    const { rows } = await this.db.query<EventRow>({
      name: 'events-read-stream',
      text: `SELECT ${EVENT_COLUMNS} FROM events
       WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version`,
      values: [streamId, fromVersion],
    });
    return rows.map(toRecordedEvent);
  }

  private async readStreams(streamIds: string[]): Promise<(streamId: string) => RecordedEvent[]> {
    const { rows } = await this.db.query<EventRow>({
      name: 'events-read-streams',
      text: `SELECT ${EVENT_COLUMNS} FROM events
       WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version`,
      values: [streamIds],
    });
    const byStream = new Map<string, RecordedEvent[]>();
    for (const row of rows) {
      const events = byStream.get(row.stream_id) ?? [];
      events.push(toRecordedEvent(row));
      byStream.set(row.stream_id, events);
    }
    // An array for each caller: callers may change what they are given.
    return (streamId) => [...(byStream.get(streamId) ?? [])];
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    const { rows } = await this.db.query<EventRow>({
      name: 'events-read-all',
      text: `SELECT ${EVENT_COLUMNS} FROM events
       WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, global_position
       LIMIT $3`,
      values: [after.commit.toString(), after.sequence.toString(), limit],
    });
    return rows.map(toRecordedEvent);
  }

  async headPosition(): Promise<GlobalPosition> {
    const { rows } = await this.db.query<{ commit_position: string; sequence_position: string }>({
      name: 'events-head',
      text: `SELECT transaction_id::text AS commit_position, global_position AS sequence_position FROM events
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    });
    const row = rows[0];
    return row ? { commit: BigInt(row.commit_position), sequence: BigInt(row.sequence_position) } : START;
  }

  private async currentVersion(streamId: string): Promise<number | 'no_stream'> {
    const { rows } = await this.db.query<{ version: string | null }>(
      'SELECT max(stream_version) AS version FROM events WHERE stream_id = $1',
      [streamId],
    );
    const version = rows[0]?.version;
    return version == null ? 'no_stream' : Number(version);
  }
}

function toAppendResult({ streamId, expectedVersion }: AppendRequest, row: AppendRow): AppendResult {
  const streamVersion = Number(row.stream_version);
  if (row.outcome === 'wrong_expected_version') {
    throw new WrongExpectedVersionError(streamId, expectedVersion, streamVersion < 0 ? 'no_stream' : streamVersion);
  }
  const position = { commit: BigInt(row.commit_position!), sequence: BigInt(row.sequence_position!) };
  if (row.outcome === 'already_recorded') return { outcome: 'already_recorded', streamVersion, position };
  return { outcome: 'appended', streamVersion, position, alreadyRecorded: row.already_recorded };
}

/** As append_to_stream takes it; `assertAppendable` has checked it. */
function toSqlExpectedVersion(expected: ExpectedVersion): number | null {
  switch (expected) {
    case 'any':
      return null;
    case 'no_stream':
      return -1;
    case 'stream_exists':
      return -2;
    default:
      return expected;
  }
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    streamVersion: Number(row.stream_version),
    position: { commit: BigInt(row.commit_position), sequence: BigInt(row.sequence_position) },
    recordedAt: row.recorded_at,
  };
}
