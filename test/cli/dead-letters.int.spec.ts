import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresIntakeQueue } from '../../src/intake/postgres-intake-queue.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { runSubledger } from '../support/cli.ts';

/*
 * `subledger dead-letters`, as an operator runs it (in this process), against a test
 * database with dead letters in its queue.
 */
let db: TestDatabase;
let queue: PostgresIntakeQueue;

const subledger = (args: string[]) => runSubledger(db.url, args);

/** Enqueues a message and fails it for good with `reason`; returns its message id. */
async function deadLetter(name: string, reason: string): Promise<string> {
  await queue.enqueue({
    deduplicationId: `test:${name}`,
    orderingKey: `test:${name}`,
    kind: 'apple.notification.v2',
    document: { kind: 'apple.notification.v2', contentType: 'application/json', body: JSON.stringify({ name }) },
  });
  const [delivery] = await queue.receive({ max: 1, visibilityTimeoutMs: 60_000 });
  await queue.fail(delivery!, reason, { permanent: true });
  return delivery!.messageId;
}

beforeAll(async () => {
  db = await createTestDatabase();
  queue = new PostgresIntakeQueue(db.pool);
});
afterAll(() => db.drop());

describe('subledger dead-letters', () => {
  it('says when there are none', async () => {
    expect(await subledger(['dead-letters'])).toMatchObject({ code: 0, stdout: 'No dead letters.\n' });
  });

  it('lists dead letters as a table, newest failure first, or as JSON', async () => {
    const first = await deadLetter('one', 'The document is not an App Store notification');
    const second = await deadLetter('two', 'store API\ntimed out');

    const table = await subledger(['dead-letters']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MESSAGE\s+FAILED AT\s+KIND\s+ATTEMPTS\s+ORDERING KEY\s+REASON$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        new RegExp(`^${second}\\s+\\S+Z\\s+apple.notification.v2\\s+1\\s+test:two\\s+store API timed out$`),
      ),
      expect.stringMatching(new RegExp(`^${first}\\s.*test:one\\s+The document is not an App Store notification$`)),
    ]);

    const json = await subledger(['dead-letters', '--limit', '1', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        messageId: second,
        deduplicationId: 'test:two',
        attempts: 1,
        reason: 'store API\ntimed out',
      }),
    ]);
  });

  it('puts a dead letter back in the queue', async () => {
    const messageId = await deadLetter('three', 'store API timed out');
    const retried = await subledger(['dead-letters', 'retry', messageId, '--json']);
    expect(retried).toMatchObject({ code: 0 });
    expect(JSON.parse(retried.stdout)).toEqual({ messageId, status: 'queued' });
    expect(await queue.receive({ max: 10, visibilityTimeoutMs: 60_000 })).toEqual([
      expect.objectContaining({ messageId, attempt: 1 }),
    ]);
    const listed = JSON.parse((await subledger(['dead-letters', '--json'])).stdout) as { messageId: string }[];
    expect(listed.map((l) => l.messageId)).not.toContain(messageId);

    // It is no longer a dead letter: a second retry has nothing to put back.
    expect(await subledger(['dead-letters', 'retry', messageId])).toMatchObject({
      code: 1,
      stderr: `subledger: No dead letter ${messageId}\n`,
    });
  });

  it('fails with exit code 1 and a clear message for what it cannot do', async () => {
    expect(await subledger(['dead-letters', 'retry', '999999'])).toMatchObject({
      code: 1,
      stderr: 'subledger: No dead letter 999999\n',
    });
    expect(await subledger(['dead-letters', 'retry', 'abc'])).toMatchObject({
      code: 1,
      stderr: 'subledger: No dead letter abc\n',
    });
    expect(await subledger(['dead-letters', '--limit', 'many'])).toMatchObject({
      code: 1,
      stderr: 'subledger: --limit must be a whole number above 0\n',
    });
    const missing = await subledger(['dead-letters', 'retry']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument 'messageId'");
  });
});
