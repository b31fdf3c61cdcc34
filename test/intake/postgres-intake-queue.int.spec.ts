import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import { PostgresIntakeQueue } from '../../src/intake/postgres-intake-queue.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { CONTRACT_RETRY_POLICY, intakeQueueContract } from './intake-queue.contract.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

intakeQueueContract('PostgreSQL', {
  reset: async () => void (await db.pool.query('TRUNCATE intake_messages')),
  connect: () => new PostgresIntakeQueue(db.pool, CONTRACT_RETRY_POLICY),
  elapse: (ms) => sleep(ms),
  findDocument: (documentId) => new SourceDocumentArchive(db.pool).find(documentId),
});

describe('PostgreSQL intake queue', () => {
  it('keeps processed messages as rows: done for the receiver’s acks, pending for a stale receipt', async () => {
    await db.pool.query('TRUNCATE intake_messages');
    const queue = new PostgresIntakeQueue(db.pool, CONTRACT_RETRY_POLICY);
    const document = { kind: 'test', contentType: 'text/plain', body: 'a notification' };
    await queue.enqueue({ deduplicationId: 'n-1', orderingKey: 'n-1', kind: 'test', document });
    await queue.enqueue({ deduplicationId: 'n-2', orderingKey: 'n-2', kind: 'test', document });
    const [first, second] = await queue.receive({ max: 10, visibilityTimeoutMs: 60_000 });
    const stale = { ...second!, receipt: '00000000-0000-4000-8000-000000000000' };
    expect(await queue.ackAll([first!, stale])).toBe(1);
    const { rows } = await db.pool.query(`SELECT deduplication_id, state FROM intake_messages ORDER BY 1`);
    expect(rows).toEqual([
      { deduplication_id: 'n-1', state: 'done' },
      { deduplication_id: 'n-2', state: 'pending' },
    ]);
  });

  it('fails only the notification the database refuses when it arrives with others (group commit)', async () => {
    await db.pool.query('TRUNCATE intake_messages');
    const queue = new PostgresIntakeQueue(db.pool, CONTRACT_RETRY_POLICY);
    const document = (body: string) => ({ kind: 'test', contentType: 'text/plain', body });
    const enqueue = (id: string, body: string) =>
      queue.enqueue({ deduplicationId: id, orderingKey: id, kind: 'test', document: document(body) });
    // Sent together, they share a commit; a NUL character is text PostgreSQL refuses.
    const answers = await Promise.allSettled([
      enqueue('first', 'one'),
      enqueue('good-1', 'two'),
      enqueue('poison', 'bad \u0000 body'),
      enqueue('good-2', 'three'),
    ]);
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const { rows } = await db.pool.query(`SELECT deduplication_id FROM intake_messages ORDER BY message_id`);
    expect(rows.map((r) => r.deduplication_id)).toEqual(['first', 'good-1', 'good-2']);
  });
});
