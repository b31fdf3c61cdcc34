import { randomUUID } from 'node:crypto';
import {
  KurrentDBClient,
  StreamNotFoundError,
  WrongExpectedVersionError as KurrentWrongExpectedVersionError,
  excludeSystemEvents,
  streamNameFilter,
  type EventData,
  type Filter,
  type JSONType,
  type ReadAllOptions as KurrentReadAllOptions,
  type ReadStreamOptions,
} from '@kurrent/kurrentdb-client';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  assertAppendable,
  satisfiesExpectedVersion,
} from '../event-store.ts';
import { START, comparePositions, type GlobalPosition } from '../global-position.ts';
import {
  LINK_EVENT_TYPE,
  StreamNames,
  linkData,
  newest,
  parseLink,
  pinnedStreamState,
  toGlobalPosition,
  toReadPosition,
  type KurrentRecord,
} from './kurrentdb-mapping.ts';

export interface KurrentDbEventStoreOptions {
  /**
   * Scopes the store to KurrentDB streams named with this prefix: our stream ids are
   * stored under it, and reads of $all see nothing else. Tests use a fresh one each,
   * since a KurrentDB server cannot be emptied; production uses none.
   */
  readonly streamPrefix?: string;
}

/** What `append` learnt by reading before it writes. */
interface Sighting {
  /** The stream's last version, -1 for no stream. */
  readonly current: number;
  readonly fresh: NewEvent[];
  readonly known: { readonly id: string; readonly position: GlobalPosition }[];
  /** Events found in the stream that the event id index does not know yet. */
  readonly unindexed: RecordedEvent[];
}

/** How many times an append reads and writes again after losing a race ('any' promises no conflict). */
const RACE_RETRIES = 100;
/** Records per request when reading $all backwards for the newest of ours. */
const HEAD_PAGE = 32;

/**
 * The event store on KurrentDB (EventStoreDB 22.6 or newer: stream reads must carry
 * positions). Passes the contract suite in test/eventstore when a server is at hand.
 *
 * Idempotent appends. Event ids are ours and deterministic, and a fact already stored
 * must be reported as already recorded, never written twice, whatever expected version
 * the caller brings. KurrentDB's own idempotence does not give that: it recognises a
 * repeated write only when its expected revision matches the original one, answers
 * success either way (so "appended" and "already recorded" cannot be told apart), and
 * knows nothing of ids in other streams. So `append` reads first (the stream, and an
 * index of event ids for the other streams), decides as the PostgreSQL adapter does, and
 * writes only the new events, pinned to the revision it read: if anyone wrote in
 * between, the decision may be stale, so it reads and decides again.
 *
 * Global order. $all only shows committed events and positions grow in commit order, so
 * a reader never skips one and `readAll` needs no visibility horizon.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly client: KurrentDBClient;
  private readonly ownsClient: boolean;
  private readonly names: StreamNames;
  /** The server filters on stream names or on event types, not both: `isOurs` checks the rest. */
  private readonly filter: Filter;
  private readonly appendListeners = new Set<() => void>();

  /** From a connection string (`kurrentdb://…`, `esdb://…`), or a client whose owner closes it. */
  constructor(connection: string | KurrentDBClient, options: KurrentDbEventStoreOptions = {}) {
    this.ownsClient = typeof connection === 'string';
    this.client = typeof connection === 'string' ? KurrentDBClient.connectionString(connection) : connection;
    this.names = new StreamNames(options.streamPrefix);
    this.filter = options.streamPrefix ? streamNameFilter({ prefixes: [options.streamPrefix] }) : excludeSystemEvents();
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.dispose();
  }

  /** Calls `listener` after each append that wrote (to wake projections in this process). Returns an unsubscribe. */
  onAppended(listener: () => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  async append(
    streamId: string,
    events: readonly NewEvent[],
    { expectedVersion }: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult> {
    assertAppendable(streamId, events, expectedVersion);
    if (events.some((e) => e.data === undefined)) throw new TypeError(`An event for ${streamId} has no data`);
    // Readers of $all leave out KurrentDB's own types: such an event would never reach a projection.
    const reserved = events.find((e) => e.type.startsWith('$'));
    if (reserved) throw new TypeError(`Event type ${JSON.stringify(reserved.type)} is reserved by KurrentDB`);

    const streamName = this.names.stream(streamId);
    for (let attempt = 0; ; attempt++) {
      const { current, fresh, known, unindexed } = await this.sight(streamName, events);
      if (fresh.length === 0) {
        await this.index(unindexed);
        // As PostgreSQL answers it: this stream's version (even when the events sit in
        // another stream), and the position of the newest of them.
        return { outcome: 'already_recorded', streamVersion: current, position: newest(known.map((k) => k.position)) };
      }
      if (!satisfiesExpectedVersion(expectedVersion, current)) {
        throw new WrongExpectedVersionError(streamId, expectedVersion, current < 0 ? 'no_stream' : current);
      }
      const written = await this.write(streamName, fresh, current);
      if (written) {
        await this.index([...unindexed, ...written]);
        for (const listener of this.appendListeners) listener();
        const last = written.at(-1)!;
        return {
          outcome: 'appended',
          streamVersion: last.streamVersion,
          position: last.position,
          alreadyRecorded: known.map((k) => k.id),
        };
      }
      // Lost a race. With a version expected, the next read finds the stream moved on
      // (a conflict) or our events stored by the winner (already recorded); 'any' and
      // 'stream_exists' simply try again.
      if (attempt === RACE_RETRIES) {
        throw new WrongExpectedVersionError(streamId, expectedVersion, current < 0 ? 'no_stream' : current);
      }
    }
  }

  async readStream(streamId: string, options: { fromVersion?: number } = {}): Promise<RecordedEvent[]> {
    const fromRevision = BigInt(Math.max(0, options.fromVersion ?? 0));
    const records = await this.readRecords(this.names.stream(streamId), { fromRevision });
    return records.map((r) => this.names.toRecordedEvent(r));
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    if (limit <= 0) return events;
    // One more than asked: KurrentDB starts a read at the position given, ours starts after it.
    for await (const event of this.scanAll('forwards', after, limit + 1)) {
      events.push(event);
      if (events.length === limit) break;
    }
    return events;
  }

  async headPosition(): Promise<GlobalPosition> {
    for await (const event of this.scanAll('backwards', 'end', HEAD_PAGE)) return event.position;
    return START;
  }

  /**
   * Our events in $all, page by page, from `from` (left out itself: positions we hand
   * out are exclusive) in `direction`. Pages are filtered by the server; what the
   * filter cannot say (see `isOurs`) is left out here.
   */
  private async *scanAll(
    direction: 'forwards' | 'backwards',
    from: GlobalPosition | 'end',
    pageSize: number,
  ): AsyncGenerator<RecordedEvent> {
    let cursor = from;
    for (;;) {
      const options: KurrentReadAllOptions = {
        direction,
        fromPosition: cursor === 'end' ? 'end' : toReadPosition(cursor),
        maxCount: pageSize,
        filter: this.filter,
      };
      let read = 0;
      for await (const { event } of this.client.readAll(options)) {
        read++;
        if (!event) continue;
        const position = toGlobalPosition(event.position);
        if (cursor !== 'end' && comparePositions(position, cursor) === 0) continue;
        cursor = position;
        if (this.names.isOurs(event)) yield this.names.toRecordedEvent(event);
      }
      if (read < pageSize || cursor === 'end') return;
    }
  }

  /** Which events of a batch are stored already, and where the stream is. */
  private async sight(streamName: string, events: readonly NewEvent[]): Promise<Sighting> {
    const [stream, elsewhere] = await Promise.all([
      this.readRecords(streamName, { requiresLeader: true }),
      Promise.all(events.map((e) => this.indexed(e.id))),
    ]);
    const inStream = new Map(stream.map((r) => [r.id.toLowerCase(), this.names.toRecordedEvent(r)]));
    const sighting: Sighting = { current: Number(stream.at(-1)?.revision ?? -1n), fresh: [], known: [], unindexed: [] };
    events.forEach((event, i) => {
      const here = inStream.get(event.id.toLowerCase());
      const stored = here ?? elsewhere[i];
      if (stored) sighting.known.push({ id: event.id, position: stored.position });
      else sighting.fresh.push(event);
      if (here && !elsewhere[i]) sighting.unindexed.push(here);
    });
    return sighting;
  }

  /**
   * Appends pinned to the revision read, and reads the new events back: their positions
   * as readers of $all will see them (what the server answers an append with is not
   * documented to be that). Undefined when another writer got there first.
   */
  private async write(streamName: string, events: NewEvent[], current: number): Promise<RecordedEvent[] | undefined> {
    try {
      const result = await this.client.appendToStream(streamName, events.map(toEventData), {
        streamState: pinnedStreamState(current),
      });
      // A client built with throwOnAppendFailure=false answers a conflict instead of throwing it.
      if (!result.success) return undefined;
    } catch (error) {
      if (error instanceof KurrentWrongExpectedVersionError) return undefined;
      throw error;
    }
    const records = await this.readRecords(streamName, {
      fromRevision: BigInt(current + 1),
      maxCount: events.length,
      requiresLeader: true,
    });
    return records.map((r) => this.names.toRecordedEvent(r));
  }

  /**
   * Event ids are unique across all streams, and KurrentDB looks events up by stream
   * only: each stored event gets a stream of its own that links to it. The link is
   * written after the event (KurrentDB writes one stream at a time), so a crash in
   * between leaves it out: a later append that finds the event in its stream writes
   * it then. Until it does, only an append of the same id to another stream could
   * miss it, and our ids hash the stream id (deterministicEventId).
   */
  private async index(events: readonly RecordedEvent[]): Promise<void> {
    await Promise.all(
      events.map(async (event) => {
        const link: EventData = {
          id: randomUUID(),
          contentType: 'application/octet-stream',
          type: LINK_EVENT_TYPE,
          data: new TextEncoder().encode(linkData(BigInt(event.streamVersion), this.names.stream(event.streamId))),
          metadata: undefined,
        };
        try {
          await this.client.appendToStream(this.names.eventIdIndex(event.id), link, { streamState: 'no_stream' });
        } catch (error) {
          // Linked already: by a writer that raced this one, or before a crash.
          if (!(error instanceof KurrentWrongExpectedVersionError)) throw error;
        }
      }),
    );
  }

  /** The event stored under `eventId` in any stream, by the index; undefined when unknown. */
  private async indexed(eventId: string): Promise<RecordedEvent | undefined> {
    const [link] = await this.readRecords(this.names.eventIdIndex(eventId), { maxCount: 1, requiresLeader: true });
    const target = link && parseLink(link.data);
    if (!target) return undefined;
    // Read the event itself: a link resolved by the server carries the link's position.
    const [record] = await this.readRecords(target.streamName, {
      fromRevision: target.revision,
      maxCount: 1,
      requiresLeader: true,
    });
    return record?.id.toLowerCase() === eventId.toLowerCase() ? this.names.toRecordedEvent(record) : undefined;
  }

  /** A stream's records, oldest first; none for a stream that does not exist. */
  private async readRecords(streamName: string, options: ReadStreamOptions): Promise<KurrentRecord[]> {
    const records: KurrentRecord[] = [];
    try {
      for await (const { event } of this.client.readStream(streamName, options)) if (event) records.push(event);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return records;
  }
}

/** Data as JSON, and our metadata as the event's JSON metadata. */
function toEventData(event: NewEvent): EventData {
  return {
    id: event.id,
    contentType: 'application/json',
    type: event.type,
    data: event.data as JSONType,
    metadata: event.metadata as JSONType,
  };
}
