import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseSignals } from '../../src/db/database-signals.ts';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { ProjectionFollower } from '../../src/projections/projection-follower.ts';
import type { Projection } from '../../src/projections/projection.ts';
import { ProjectionRunner } from '../../src/projections/runner.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * An API instance does not run the projections: it follows the workers' checkpoints for
 * read-your-writes, from their announcements, and from the checkpoint itself when it may
 * have missed one.
 */
let db: TestDatabase;
let eventStore: PostgresEventStore;
let runner: ProjectionRunner;
let signals: DatabaseSignals;
const started: { stop(): unknown }[] = [];

/** A projection that writes nothing: only its checkpoint moves. */
const counting: Projection = { name: 'follower_test', apply: async () => {}, reset: async () => {} };
const MINUTE = 60_000;

beforeAll(async () => {
  db = await createTestDatabase();
  eventStore = new PostgresEventStore(db.pool);
});
afterAll(() => db.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE events, projection_checkpoints');
  // The worker's runner: woken only by its own appends here.
  runner = new ProjectionRunner({
    pool: db.pool,
    eventStore,
    projection: counting,
    batchSize: 100,
    idlePollMs: MINUTE,
    logger: silentLogger,
  });
  signals = new DatabaseSignals({ pool: db.pool, logger: silentLogger });
});
afterEach(async () => {
  for (const part of started.splice(0).reverse()) await part.stop();
  await runner.stop();
  await signals.stop();
});

async function append() {
  const { position } = await eventStore.append(
    `stream-${randomUUID()}`,
    [{ id: randomUUID(), type: 'Happened', data: {}, metadata: {} }],
    { expectedVersion: 'no_stream' },
  );
  return position;
}

function follow(pollMs: number) {
  const follower = new ProjectionFollower({
    projection: counting.name,
    db: db.pool,
    signals,
    logger: silentLogger,
    pollMs,
  });
  started.push(follower);
  return follower;
}

describe('a followed projection', () => {
  it('is known to have reached a position from its announcement alone', async () => {
    await signals.start();
    const follower = follow(MINUTE); // no look at the checkpoint within the test
    await follower.start();
    await runner.start();
    const position = await append();
    runner.nudge();
    expect(await follower.waitFor(position, 10_000)).toBe(true);
  });

  it('is looked up while someone waits, when announcements cannot be heard', async () => {
    // The signals never listen: every announcement is missed.
    const follower = follow(50);
    await follower.start();
    await runner.start();
    const position = await append();
    runner.nudge();
    expect(await follower.waitFor(position, 10_000)).toBe(true);
  });

  it('answers false at the timeout when the projection does not get there', async () => {
    await signals.start();
    const follower = follow(50);
    await follower.start();
    const position = await append(); // no runner: nobody projects it
    expect(await follower.waitFor(position, 300)).toBe(false);
  });
});
