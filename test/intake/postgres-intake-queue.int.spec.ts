import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import { createPool } from '../../src/db/pool.ts';
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

  it('receives from a backlog with work linear in it, whatever plan it kept from an empty queue', async () => {
    await db.pool.query('TRUNCATE intake_messages');
    // One connection, as a worker's receive is prepared on its connection and its plan kept.
    const connection = createPool(db.url, 1);
    try {
      const queue = new PostgresIntakeQueue(connection, CONTRACT_RETRY_POLICY);
      for (let i = 0; i < 8; i++) await queue.receive({ max: 50, visibilityTimeoutMs: 60_000 }); // the plan: empty queue
      const backlog = 3_000;
      await new SourceDocumentArchive(db.pool).keep({ kind: 'test', contentType: 'text/plain', body: 'backlog' });
      await db.pool.query(
        `INSERT INTO intake_messages (deduplication_id, ordering_key, kind, document_id)
         SELECT 'b-' || g, 'group-' || g, 'test', (SELECT document_id FROM source_documents LIMIT 1)
         FROM generate_series(1, $1::int) g`,
        [backlog],
      );
      // The receive as the worker runs it (its kept plan), with the rows each step touched counted.
      const { rows } = await connection.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE "intake-receive"(50, 60000)`,
      );
      const [{ Plan: plan }] = rows[0]!['QUERY PLAN'];
      expect(rowsTouched(plan)).toBeLessThan(20 * backlog); // an anti-join kept from an empty queue: ~backlog²/2
      expect(await queue.receive({ max: 50, visibilityTimeoutMs: 60_000 })).toHaveLength(50);
    } finally {
      await connection.end();
    }
  });
});

interface PlanNode {
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}
/** Every row a plan's steps produced or looked at and dropped, over all their loops. */
function rowsTouched(node: PlanNode): number {
  const own =
    (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
    node['Actual Loops'];
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsTouched(child), 0);
}
