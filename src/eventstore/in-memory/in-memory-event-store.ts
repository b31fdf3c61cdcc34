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
  satisfiesExpectedVersion,
} from '../event-store.ts';
import { START, comparePositions, type GlobalPosition } from '../global-position.ts';

export interface InMemoryEventStoreOptions {
  /** Stamps `recordedAt`; a test can hand in its own. */
  readonly clock?: () => Date;
}

/** An event as kept: data and metadata as JSON text, so nobody holds a reference into the log. */
interface StoredEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
  readonly recordedAt: number;
}

/**
 * The event store in this process's memory, for unit tests and for running the rules
 * without a database. Keeps the same promises as the PostgreSQL adapter (the contract
 * suite in test/eventstore proves both): expected versions, event ids unique across
 * all streams, all-or-nothing batches, a global order in which each append is one
 * commit. Appends run one at a time, so there is no race to lose, and every event is
 * visible to readers as soon as its append resolves.
 */
export class InMemoryEventStore implements EventStore {
  private readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  /** By lower-case id: PostgreSQL compares event ids as UUIDs, whatever their case. */
  private readonly byId = new Map<string, StoredEvent>();
  private readonly appendListeners = new Set<() => void>();
  private readonly clock: () => Date;
  private lastCommit = 0n;
  private lastSequence = 0n;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Calls `listener` after each append (to wake projections). Returns an unsubscribe. */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** How many events the store holds. */
  async countEvents(): Promise<number> {
    return this.log.length;
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    { expectedVersion }: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult> {
    assertAppendable(streamId, events, expectedVersion);
    // PostgreSQL's columns are NOT NULL: an event without data is refused there too.
    if (events.some((e) => e.data === undefined)) throw new TypeError(`An event for ${streamId} has no data`);
    try {
      return this.appendChecked(streamId, events, expectedVersion);
    } finally {
      for (const listener of this.appendListeners) listener();
    }
  }

  private appendChecked(streamId: string, events: readonly NewEvent[], expectedVersion: ExpectedVersion): AppendResult {
    const known = events.filter((e) => this.byId.has(e.id.toLowerCase()));
    const fresh = events.filter((e) => !this.byId.has(e.id.toLowerCase()));
    const current = (this.streams.get(streamId)?.length ?? 0) - 1;

    if (fresh.length === 0) {
      // As PostgreSQL answers it: the stream's version (even when the events sit in another
      // stream), and the position of the newest of them.
      const positions = known.map((e) => this.byId.get(e.id.toLowerCase())!.position);
      const position = positions.reduce((a, b) => (comparePositions(a, b) >= 0 ? a : b));
      return { outcome: 'already_recorded', streamVersion: current, position };
    }
    if (!satisfiesExpectedVersion(expectedVersion, current)) {
      throw new WrongExpectedVersionError(streamId, expectedVersion, current < 0 ? 'no_stream' : current);
    }

    const commit = ++this.lastCommit;
    const recordedAt = this.clock().getTime();
    const stored = fresh.map((e, i): StoredEvent => ({
      id: e.id.toLowerCase(),
      type: e.type,
      // What PostgreSQL's jsonb would keep: a copy, as JSON.
      data: JSON.stringify(e.data),
      metadata: JSON.stringify(e.metadata),
      streamId,
      streamVersion: current + 1 + i,
      position: { commit, sequence: ++this.lastSequence },
      recordedAt,
    }));
    for (const e of stored) this.byId.set(e.id, e);
    this.log.push(...stored);
    const stream = this.streams.get(streamId);
    if (stream) stream.push(...stored);
    else this.streams.set(streamId, stored);
    const last = stored.at(-1)!;
    return {
      outcome: 'appended',
      streamVersion: last.streamVersion,
      position: last.position,
      alreadyRecorded: known.map((e) => e.id),
    };
  }

  async readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<RecordedEvent[]> {
    const fromVersion = options.fromVersion ?? 0;
    return (this.streams.get(streamId) ?? []).filter((e) => e.streamVersion >= fromVersion).map(toRecordedEvent);
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    const first = firstAfter(this.log, after);
    return this.log.slice(first, first + limit).map(toRecordedEvent);
  }

  async headPosition(): Promise<GlobalPosition> {
    return this.log.at(-1)?.position ?? START;
  }
}

/** Index of the first event strictly after `position` (the log is in global order). */
function firstAfter(log: readonly StoredEvent[], position: GlobalPosition): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (comparePositions(log[middle]!.position, position) > 0) high = middle;
    else low = middle + 1;
  }
  return low;
}

function toRecordedEvent(e: StoredEvent): RecordedEvent {
  return {
    id: e.id,
    type: e.type,
    data: JSON.parse(e.data) as unknown,
    metadata: JSON.parse(e.metadata) as EventMetadata,
    streamId: e.streamId,
    streamVersion: e.streamVersion,
    position: e.position,
    recordedAt: new Date(e.recordedAt),
  };
}
