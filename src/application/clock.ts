/** Where use cases read the time: the system's in the service and the CLI, a test's own in tests. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
