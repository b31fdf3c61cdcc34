import { expect } from 'vitest';

/** The three functions of a Decider (Emmett's shape), as src/domain/purchase/decider.ts exports them. */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** What a command decided, for assertions beyond the events: `state` has the past and the new events folded in. */
export interface Decided<Event, State> {
  readonly events: Event[];
  readonly state: State;
}

type ErrorClass = new (...args: never[]) => Error;

export interface Then<Event, State> {
  /** Exactly these new events, in this order. */
  then(expected: readonly Event[]): Decided<Event, State>;
  /** No new events: the command changes nothing. */
  thenNothingHappened(): Decided<Event, State>;
  /** The command is refused: an error of this class, or whose message matches; returns it for more checks. */
  thenThrows(expected?: ErrorClass | RegExp | string): Error;
}

/**
 * Given these past events, when this command, then these new events (or this error):
 * a rule of the domain as a specification, after Emmett's `DeciderSpecification`.
 * Unlike Emmett's, `then` wants exactly the events, in order (a decider that adds an
 * event nobody expected is wrong), and both `then`s hand back the new state, so a
 * rule can also say what the outcome means (a status, an owner).
 */
export const DeciderSpecification = {
  for<Command, Event, State>(decider: Decider<Command, Event, State>) {
    const fold = (events: readonly Event[], from = decider.initialState()) => events.reduce(decider.evolve, from);
    return {
      given(past: readonly Event[] = []) {
        return {
          when(command: Command): Then<Event, State> {
            // Decided only when a `then` asks, so that `thenThrows` sees what `decide` throws.
            const decided = (): Decided<Event, State> => {
              const before = fold(past);
              const events = decider.decide(command, before);
              return { events, state: fold(events, before) };
            };
            return {
              then(expected) {
                const outcome = decided();
                expect(outcome.events).toEqual(expected);
                return outcome;
              },
              thenNothingHappened() {
                const outcome = decided();
                expect(outcome.events).toEqual([]);
                return outcome;
              },
              thenThrows(expected) {
                try {
                  decided();
                } catch (error) {
                  if (expected !== undefined) expect(() => rethrow(error)).toThrow(expected);
                  expect(error).toBeInstanceOf(Error);
                  return error as Error;
                }
                return expect.fail('Expected the command to be refused, but it was decided');
              },
            };
          },
        };
      },
    };
  },
};

function rethrow(error: unknown): never {
  throw error;
}
