/**
 * One workload for every engine measured, so the numbers compare: single-event
 * appends with an expected version to streams of 10 events, and a catch-up over
 * 2,000 streams of 10 events.
 */
export const WORKLOAD = {
  runs: Number(process.env.RUNS ?? 3),
  warmupAppends: 200,
  appendsOneWriter: Number(process.env.APPENDS_ONE_WRITER ?? 3000),
  appendsManyWriters: Number(process.env.APPENDS_MANY_WRITERS ?? 5000),
  manyWriters: 10,
  eventsPerStream: 10,
  catchUpStreams: Number(process.env.CATCH_UP_STREAMS ?? 2000),
  batchSize: 500,
};

export interface EngineSuite {
  readonly name: string;
  /** Single-event appends per second with `writers` concurrent writers. */
  appends(writers: number, total: number): Promise<number>;
  /** Events per second for a projection that counts events per stream, from the first event. */
  catchUpCounter(): Promise<number>;
}
