import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store.ts';
import { SourceDocumentArchive } from '../../src/eventstore/source-documents.ts';
import { runSubledger } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { appleKey, day, recordBoughtAndRenewed } from '../support/purchase-facts.ts';

/*
 * `subledger purchases` and `subledger document`, as support staff run them: a customer's
 * purchases charge by charge and owner by owner, and the store's document behind a fact,
 * decoded or verbatim.
 */
const CUSTOMER = 'fern';
const key = appleKey('3000000002');
let db: TestDatabase;
let documentId: string;
/** A Play notification as the archive keeps it: the Pub/Sub message, with the notification base64 inside. */
const PUSH = JSON.stringify({
  messageId: '42',
  publishTime: '2026-12-04T08:00:00Z',
  subscription: 'projects/p/subscriptions/s',
  data: Buffer.from(
    JSON.stringify({ packageName: 'com.example.pulse', subscriptionNotification: { notificationType: 2 } }),
  ).toString('base64'),
});

const subledger = (args: string[]) => runSubledger(db.url, args);

beforeAll(async () => {
  db = await createTestDatabase();
  await recordBoughtAndRenewed(new PostgresEventStore(db.pool), key, CUSTOMER);
  ({ documentId } = await new SourceDocumentArchive(db.pool).keep({
    kind: 'google.rtdn',
    contentType: 'application/json',
    body: PUSH,
  }));
  expect(await subledger(['rebuild-projections'])).toMatchObject({ code: 0 });
});
afterAll(() => db.drop());

describe('subledger purchases', () => {
  it('lists each purchase with its transactions and owners, as JSON', async () => {
    const result = await subledger(['purchases', CUSTOMER, '--json']);
    expect(result.code).toBe(0);
    const { purchases } = JSON.parse(result.stdout) as { purchases: any[] };
    expect(purchases).toHaveLength(1);
    expect(purchases[0]).toMatchObject({ ...key, owner: CUSTOMER });
    expect(purchases[0].transactions.map((t: { purchasedAt: string }) => t.purchasedAt)).toEqual([day(0), day(30)]);
    expect(purchases[0].owners).toEqual([expect.objectContaining({ appUserId: CUSTOMER, via: 'app_account_token' })]);
  });

  it('prints them as text by default, and says when there are none', async () => {
    const text = await subledger(['purchases', CUSTOMER]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^app_store\/3000000002 .* owner: fern$/m);
    expect(text.stdout).toMatch(new RegExp(`^ {4}\\S+\\s+${day(30)} → ${day(60)}\\s+normal`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^ {4}${day(0)}\\s+fern\\s+app_account_token`, 'm'));
    expect((await subledger(['purchases', 'nobody'])).stdout).toBe('No purchases for nobody.\n');
  });
});

describe('subledger document', () => {
  it('prints the document decoded: the push with its notification readable', async () => {
    const result = await subledger(['document', documentId]);
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout) as Record<string, any>;
    expect(shown).toMatchObject({
      documentId,
      kind: 'google.rtdn',
      notification: { store: 'play_store', type: 'SUBSCRIPTION_RENEWED' },
    });
    expect(shown.decoded.data).toMatchObject({ subscriptionNotification: { notificationType: 2 } });
    expect(shown).not.toHaveProperty('body');
  });

  it('prints it verbatim with --raw, byte for byte', async () => {
    expect((await subledger(['document', documentId, '--raw'])).stdout).toBe(PUSH);
  });

  it('fails with exit 1 for a document the archive does not hold', async () => {
    const result = await subledger(['document', `sha256:${'0'.repeat(64)}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('The archive has no document');
  });
});
