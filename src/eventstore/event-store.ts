/**
 * The event store port: the seam where PostgreSQL (now) and EventStoreDB/KurrentDB
 * (later) plug in. Every adapter passes the contract suite in
 * test/eventstore/event-store.contract.ts.
 */
import type { GlobalPosition } from './global-position.ts';

export interface EventMetadata {
  /** The store's own time for what the event reports (e.g. Apple's signedDate), ISO 8601. */
  readonly storeTime?: string;
  /** The command, notification or request this event was caused by. */
  readonly causationId?: string;
  /** Ties together everything that one external interaction set off. */
  readonly correlationId?: string;
  /** The verbatim document the fact comes from, kept in the source document archive. */
  readonly source?: SourceReference;
  /**
   * The store notification that prompted the question whose answer is the source (Google's
   * push, when the facts come from the Play API's answer): what the history names as the cause.
   */
  readonly trigger?: SourceReference;
  /** Who did it, for actions taken by people (support staff) rather than stores. */
  readonly actor?: { readonly kind: 'staff' | 'app_user' | 'system'; readonly id: string; readonly reason?: string };
}

export interface SourceReference {
  readonly documentId: string;
  readonly kind: string;
}

export interface NewEvent<Type extends string = string, Data = unknown> {
  /** Deterministic: the same fact always gets the same id, which makes appends idempotent. */
  readonly id: string;
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
}

export interface RecordedEvent<Type extends string = string, Data = unknown> extends NewEvent<Type, Data> {
  readonly streamId: string;
  /** 0 for a stream's first event. */
  readonly streamVersion: number;
  readonly position: GlobalPosition;
  /** When Subledger recorded it (as opposed to metadata.storeTime, when the store says it happened). */
  readonly recordedAt: Date;
}

/** What the writer believes about the stream; anything else is a conflict. */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

export type AppendResult =
  | {
      readonly outcome: 'appended';
      readonly streamVersion: number;
      /** Position of the last event written: wait for projections to reach it to read your writes. */
      readonly position: GlobalPosition;
      /** Ids of events in the batch that were already stored and so were left out. */
      readonly alreadyRecorded: readonly string[];
    }
  | {
      /** Every event in the batch was stored before: nothing written, not an error. */
      readonly outcome: 'already_recorded';
      readonly streamVersion: number;
      readonly position: GlobalPosition;
    };

export class WrongExpectedVersionError extends Error {
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly actual: number | 'no_stream';

  constructor(streamId: string, expected: ExpectedVersion, actual: number | 'no_stream') {
    super(`Stream ${streamId}: expected version ${String(expected)}, but it is at ${String(actual)}`);
    this.streamId = streamId;
    this.expected = expected;
    this.actual = actual;
    this.name = 'WrongExpectedVersionError';
  }
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. */
  readonly after: GlobalPosition;
  readonly limit: number;
}

export interface EventStore {
  /** Appends atomically: all new events of the batch are written, or none. */
  append(
    streamId: string,
    events: readonly NewEvent[],
    options: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult>;
  /** A stream's events, oldest first; an empty array for a stream that does not exist. */
  readStream(streamId: string, options?: { fromVersion?: number }): Promise<RecordedEvent[]>;
  /**
   * Events of all streams in global order. Never skips an event: an event that
   * commits later always comes after every position already returned.
   */
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  /**
   * The position of the newest committed event, or the start for an empty store. `readAll`
   * may not reach it yet: it holds back events while an older transaction is still open.
   */
  headPosition(): Promise<GlobalPosition>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What every adapter refuses before looking at the store: nothing to append, ids that
 * are not UUIDs, one id twice, an expected version that is neither a keyword nor a
 * whole number from 0.
 */
export function assertAppendable(
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion,
): void {
  if (events.length === 0) throw new TypeError(`Nothing to append to ${streamId}`);
  const badId = events.find((e) => !UUID.test(e.id));
  if (badId) throw new TypeError(`Event ids must be UUIDs; got ${JSON.stringify(badId.id)}`);
  if (new Set(events.map((e) => e.id.toLowerCase())).size !== events.length) {
    throw new TypeError(`The same event id appears twice in one append to ${streamId}`);
  }
  if (expectedVersion === 'any' || expectedVersion === 'no_stream' || expectedVersion === 'stream_exists') return;
  if (!Number.isInteger(expectedVersion) || expectedVersion < 0) {
    throw new RangeError(`Invalid expected version ${expectedVersion}`);
  }
}

/** Whether a stream at `current` (-1: no stream) is what the writer expected. */
export function satisfiesExpectedVersion(expected: ExpectedVersion, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1;
    case 'stream_exists':
      return current !== -1;
    default:
      return current === expected;
  }
}
