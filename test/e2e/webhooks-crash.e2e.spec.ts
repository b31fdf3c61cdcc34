import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import { startSubledgerProcess, waitForHttp, type RunningProcess } from '../support/subledger-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/*
 * Issue 14: outgoing webhooks through a SIGKILL. Subledger runs as a real process, sending
 * many customers' events in parallel to a slow receiver; it is killed mid-delivery and
 * started again. Every customer event must reach the receiver at least once, each
 * customer's in ledger order, and a duplicate only ever under the same webhook-id.
 */
const DAY = 86_400_000;
const NOW = Math.floor(Date.now() / 1000) * 1000;
const CUSTOMERS = 30;

let db: TestDatabase;
let ca: AppleTestCa;
let certDir: string;
let receiver: WebhookReceiver;
let env: Record<string, string>;
let base: string;
const running: RunningProcess[] = [];

beforeAll(async () => {
  ca = await createAppleTestCa({ name: 'Subledger webhook crash test' });
  certDir = await mkdtemp(path.join(tmpdir(), 'subledger-webhook-crash-'));
  await writeFile(path.join(certDir, 'root.pem'), ca.rootPem);
  db = await createTestDatabase();
  receiver = await startWebhookReceiver();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = {
    DATABASE_URL: db.url,
    PORT: String(port),
    APPLE_TRUSTED_ROOTS: path.join(certDir, 'root.pem'),
    LOG_LEVEL: 'warn',
    INTAKE_VISIBILITY_TIMEOUT_SECONDS: '2',
    WEBHOOK_ALLOW_PRIVATE_URLS: 'on',
    // A killed worker's deliveries come back after a few seconds (twice the longest attempt).
    WEBHOOK_CONNECT_TIMEOUT_SECONDS: '0.5',
    WEBHOOK_TIMEOUT_SECONDS: '1',
    WEBHOOK_POLL_MS: '50',
  };
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await receiver?.close();
  await db?.drop();
  await rm(certDir, { recursive: true, force: true });
});

async function start(): Promise<RunningProcess> {
  const process = startSubledgerProcess(env);
  running.push(process);
  await waitForHttp(`${base}/health`, process);
  return process;
}

async function notify(spec: NotificationSpec): Promise<number> {
  const signedPayload = await signNotification(ca.signer, spec);
  const response = await fetch(`${base}/v1/webhooks/apple`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ signedPayload }),
  });
  return response.status;
}

const purchaseOf = (user: string, purchaseId: string) => ({
  appAccountToken: user,
  originalTransactionId: purchaseId,
  transactionId: purchaseId,
  purchaseDate: NOW,
  originalPurchaseDate: NOW,
  expiresDate: NOW + 30 * DAY,
});

it('delivers every customer event at least once, in order per customer, through a SIGKILL mid-delivery', async () => {
  let process = await start();
  const admin = (await new ApiKeys(db.pool).create('ops', 'admin')).secret;
  const created = await fetch(`${base}/v1/admin/webhooks/endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, maxInFlight: 8 }),
  });
  expect(created.status).toBe(201);
  receiver.trust(((await created.json()) as { secret: string }).secret);
  // A slow backend: each delivery takes 40 ms to answer, so many are in flight when the process dies.
  receiver.behave(() => {
    const until = Date.now() + 40;
    while (Date.now() < until);
    return undefined;
  });

  const customers = Array.from({ length: CUSTOMERS }, (_, i) => ({
    user: randomUUID(),
    purchaseId: `5000000000${String(1000 + i)}`,
  }));
  const buys = await Promise.all(
    customers.map(({ user, purchaseId }) =>
      notify({
        type: 'SUBSCRIBED',
        subtype: 'INITIAL_BUY',
        signedDate: NOW,
        transaction: purchaseOf(user, purchaseId),
      }),
    ),
  );
  const cancels = await Promise.all(
    customers.map(({ user, purchaseId }) =>
      notify({
        type: 'DID_CHANGE_RENEWAL_STATUS',
        subtype: 'AUTO_RENEW_DISABLED',
        signedDate: NOW + DAY,
        transaction: purchaseOf(user, purchaseId),
        renewalInfo: { autoRenewStatus: 0, originalTransactionId: purchaseId },
      }),
    ),
  );
  expect([...buys, ...cancels].every((status) => status === 200)).toBe(true);

  await eventually(
    async () => receiver.received.length,
    (n) => n >= 20,
    30_000,
  );
  const exited = once(process.child, 'exit');
  process.child.kill('SIGKILL');
  await exited;
  const beforeRestart = receiver.received.length;
  process = await start();

  // Each customer hears four events: the purchase, its entitlement, the cancellation, its entitlement.
  const expected = async () =>
    (
      await db.pool.query<{ id: string; app_user_id: string }>(
        `SELECT id, app_user_id FROM customer_events WHERE type <> 'TEST'
         ORDER BY app_user_id, ledger_commit, ledger_sequence, id`,
      )
    ).rows;
  const events = await eventually(expected, (rows) => rows.length === 4 * CUSTOMERS, 60_000);
  expect(events).toHaveLength(4 * CUSTOMERS);
  const heardIds = () => new Set(receiver.received.map((r) => r.id));
  await eventually(
    async () => heardIds(),
    (ids) => events.every((e) => ids.has(e.id)),
    60_000,
  );
  expect(events.filter((e) => !heardIds().has(e.id))).toEqual([]);
  expect(beforeRestart).toBeLessThan(4 * CUSTOMERS); // the kill came mid-delivery

  // Nothing but customer events, and each customer's first hearings in ledger order.
  const known = new Set(events.map((e) => e.id));
  expect(receiver.received.filter((r) => !known.has(r.id))).toEqual([]);
  for (const { user } of customers) {
    const ledgerOrder = events.filter((e) => e.app_user_id === user).map((e) => e.id);
    const firstHeard = [...new Set(receiver.received.filter((r) => r.appUserId === user).map((r) => r.id))];
    expect(firstHeard).toEqual(ledgerOrder);
  }
  expect(receiver.refused).toEqual([]);
  await process.stop();
});
