import pRetry from 'p-retry';
import { v5 as uuidv5 } from 'uuid';
import { canonical } from '../domain/canonical.ts';
import {
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type RecordedEvent,
} from './event-store.ts';

/** Emmett's Decider shape: pure functions, no I/O. */
export interface Decider<Command, Event extends DomainEvent, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}
export interface DomainEvent {
  readonly type: string;
  readonly data: unknown;
}

export interface HandleOptions<Event extends DomainEvent> {
  /** Identifies what caused the command: a notification id, a request id. */
  readonly causationId: string;
  /** Metadata for each event; `causationId` is added. */
  readonly metadata?: (event: Event) => Omit<EventMetadata, 'causationId'>;
  /** Recognises events this decider understands; others in the stream (from newer versions) are skipped. */
  readonly isEvent: (event: RecordedEvent) => event is RecordedEvent & Event;
}

export type HandleResult<Event, State> =
  | { readonly outcome: 'no_change'; readonly state: State; readonly events: [] }
  | {
      readonly outcome: AppendResult['outcome'];
      readonly state: State;
      readonly events: Event[];
      readonly append: AppendResult;
    };

/** Namespace for event ids (a fixed random UUID): ids are UUIDv5 of stream, type and data. */
const EVENT_ID_NAMESPACE = '4f0d2d7e-6c35-4d4e-9a36-9d7f5f3c2b11';

/**
 * The same fact in the same stream always gets the same id, whichever notification
 * (or redelivery of it) carried it, so the event store records it once.
 */
export function deterministicEventId(streamId: string, event: DomainEvent): string {
  // As bytes: given a string, the library encodes it through a slow path of its own
  // (13 µs an id against 7, four ids a notification). The id is the same.
  return uuidv5(Buffer.from(`${streamId}\n${event.type}\n${canonical(event.data)}`), EVENT_ID_NAMESPACE);
}

/**
 * Loads a stream, decides, and appends with the version it read. Another writer
 * getting there first is retried from a fresh read; a decision error is not retried.
 */
export async function handleCommand<Command, Event extends DomainEvent, State>(
  store: EventStore,
  decider: Decider<Command, Event, State>,
  streamId: string,
  command: Command,
  options: HandleOptions<Event>,
): Promise<HandleResult<Event, State>> {
  return pRetry(
    async () => {
      const recorded = await store.readStream(streamId);
      let state = decider.initialState();
      for (const event of recorded) if (options.isEvent(event)) state = decider.evolve(state, event);

      const events = decider.decide(command, state);
      if (events.length === 0) return { outcome: 'no_change', state, events: [] };

      const append = await store.append(
        streamId,
        events.map((event) => ({
          id: deterministicEventId(streamId, event),
          type: event.type,
          data: event.data,
          metadata: { ...options.metadata?.(event), causationId: options.causationId },
        })),
        { expectedVersion: recorded.length === 0 ? 'no_stream' : recorded.at(-1)!.streamVersion },
      );
      for (const event of events) state = decider.evolve(state, event);
      return { outcome: append.outcome, state, events, append };
    },
    {
      retries: 5,
      minTimeout: 5,
      maxTimeout: 200,
      randomize: true,
      shouldRetry: ({ error }) => error instanceof WrongExpectedVersionError,
    },
  );
}
