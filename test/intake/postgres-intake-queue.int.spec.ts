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
});
