import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { eventually } from '../support/eventually.ts';

/* What operators watch at /metrics besides the request and webhook counters. */
let harness: AppleHarness;
beforeAll(async () => {
  harness = await startAppleHarness();
});
afterAll(() => harness?.stop());

async function gauge(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${harness.subledger.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}
const lag = () => gauge('subledger_projection_lag_seconds{projection="purchases"}');

describe('GET /metrics', () => {
  it('shows how far the projection is behind: 0 caught up, the age of the oldest unapplied event otherwise', async () => {
    expect(await lag()).toBe(0);
    await harness.subledger.purchases.stop();
    const signedDate = Date.now();
    expect((await harness.notify({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate })).status).toBe(200);
    // The intake worker records it; the stopped projection does not apply it.
    await eventually(
      async () => (await harness.counts()).events,
      (events) => events > 0,
      5_000,
    );
    await sleep(1_200);
    expect(await lag()).toBeGreaterThanOrEqual(1);
    expect(await gauge('subledger_intake_queue_depth')).toBe(0);
  });
});
