import { describe, expect, it } from 'vitest';
import { InMemoryIntakeQueue } from '../../src/intake/in-memory-intake-queue.ts';
import { CONTRACT_RETRY_POLICY, intakeQueueContract } from './intake-queue.contract.ts';

let now = Date.parse('2026-01-01T00:00:00.000Z');
const clock = () => new Date(now);
let queue = new InMemoryIntakeQueue({ retry: CONTRACT_RETRY_POLICY, clock });

intakeQueueContract('in-memory', {
  reset: async () => {
    queue = new InMemoryIntakeQueue({ retry: CONTRACT_RETRY_POLICY, clock });
  },
  // One process, one queue: every "receiver" shares it.
  connect: () => queue,
  elapse: async (ms) => {
    now += ms;
  },
  findDocument: (documentId) => queue.documents.find(documentId),
});

describe('in-memory intake queue', () => {
  const message = (id: string) => ({
    deduplicationId: id,
    orderingKey: id,
    kind: 'test',
    document: { kind: 'test', contentType: 'text/plain', body: id },
  });

  it('caps the backoff at the policy’s ceiling', async () => {
    let at = 0;
    const capped = new InMemoryIntakeQueue({
      retry: { maxAttempts: 10, firstBackoffMs: 1_000, maxBackoffMs: 3_000 },
      clock: () => new Date(at),
    });
    await capped.enqueue(message('n-1'));
    for (const wait of [1_000, 2_000, 3_000, 3_000]) {
      const [delivery] = await capped.receive({ max: 1, visibilityTimeoutMs: 60_000 });
      await capped.fail(delivery!, 'down');
      at += wait - 1;
      expect(await capped.receive({ max: 1, visibilityTimeoutMs: 60_000 })).toEqual([]);
      at += 1;
    }
    expect(await capped.receive({ max: 1, visibilityTimeoutMs: 60_000 })).toEqual([
      expect.objectContaining({ attempt: 5 }),
    ]);
  });

  it('tells its listeners about new messages only', async () => {
    const listened = new InMemoryIntakeQueue();
    let calls = 0;
    listened.onEnqueued(() => calls++);
    await listened.enqueue(message('n-1'));
    await listened.enqueue(message('n-1'));
    expect(calls).toBe(1);
  });
});
