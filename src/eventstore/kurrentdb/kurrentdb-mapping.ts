/**
 * Translations between KurrentDB's records and our event store port, with no I/O, so
 * they are tested without a server (test/eventstore/kurrentdb-positions.unit.spec.ts).
 */
import type { AppendStreamState, Position, ReadPosition } from '@kurrent/kurrentdb-client';
import type { EventMetadata, RecordedEvent } from '../event-store.ts';
import { START, comparePositions, type GlobalPosition } from '../global-position.ts';

/** What we need of a record the client reads (its own type is a conditional generic). */
export interface KurrentRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly isJson: boolean;
  readonly position?: Position;
}

/** $all is ordered by (commit, prepare), as our positions are by (commit, sequence). */
export function toGlobalPosition(position: Position): GlobalPosition {
  return { commit: position.commit, sequence: position.prepare };
}

export function toReadPosition(position: GlobalPosition): ReadPosition {
  return comparePositions(position, START) === 0 ? 'start' : { commit: position.commit, prepare: position.sequence };
}

/** The newest of some positions (at least one). */
export function newest(positions: readonly GlobalPosition[]): GlobalPosition {
  return positions.reduce((a, b) => (comparePositions(a, b) >= 0 ? a : b));
}

/**
 * The stream state a write is pinned to: the revision the adapter has just read, whatever
 * the caller expected. Which events are new was decided against that read, so the write
 * must fail if anything was appended since (the adapter then reads and decides again).
 */
export function pinnedStreamState(current: number): AppendStreamState {
  return current < 0 ? 'no_stream' : BigInt(current);
}

/** KurrentDB's link event: a pointer the server resolves to `revision@stream`. */
export const LINK_EVENT_TYPE = '$>';

export function linkData(revision: bigint, streamName: string): string {
  return `${revision}@${streamName}`;
}

/** Where a link points; undefined for anything that is not `revision@stream`. */
export function parseLink(data: unknown): { revision: bigint; streamName: string } | undefined {
  const text = typeof data === 'string' ? data : data instanceof Uint8Array ? new TextDecoder().decode(data) : '';
  const match = /^(\d+)@(.+)$/s.exec(text);
  return match ? { revision: BigInt(match[1]!), streamName: match[2]! } : undefined;
}

/**
 * How our stream ids are named in KurrentDB. A prefix scopes a store to its own streams
 * (a test run, say, on a shared server); production uses none.
 */
export class StreamNames {
  readonly prefix: string;

  constructor(prefix = '') {
    this.prefix = prefix;
  }

  stream(streamId: string): string {
    return this.prefix + streamId;
  }

  streamIdOf(streamName: string): string {
    return streamName.slice(this.prefix.length);
  }

  /**
   * The stream that says where an event id is stored: one link to the event. KurrentDB
   * has no index by event id, and ids are unique across all streams.
   */
  eventIdIndex(eventId: string): string {
    return `${this.prefix}subledger.event-id-${eventId.toLowerCase()}`;
  }

  /**
   * Whether a record read from $all is one of our events: JSON, of one of our streams, and
   * not KurrentDB's own (types starting with `$`: stream metadata, statistics, links,
   * among them the links of our event id index).
   */
  isOurs(record: Pick<KurrentRecord, 'streamId' | 'type' | 'isJson'>): boolean {
    return record.isJson && !record.type.startsWith('$') && record.streamId.startsWith(this.prefix);
  }

  toRecordedEvent(record: KurrentRecord): RecordedEvent {
    if (!record.position) {
      // Stream reads carry positions from EventStoreDB 22.6 on; appends need them.
      throw new Error(`KurrentDB did not report the position of event ${record.id}: it needs to be 22.6 or newer`);
    }
    return {
      id: record.id,
      type: record.type,
      data: record.data,
      metadata: (record.metadata ?? {}) as EventMetadata,
      streamId: this.streamIdOf(record.streamId),
      streamVersion: Number(record.revision),
      position: toGlobalPosition(record.position),
      recordedAt: record.created,
    };
  }
}
