import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { startDeliveryWorker } from '../support/delivery-worker.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/*
 * Issue 14: more room than one claim takes. Thirty endpoints with room for ten each make
 * 300 due deliveries, more than a worker claims at once (200): every one is sent within
 * moments, none left leased and unsent until its lease runs out (found by bench:webhooks-out).
 */
let db: TestDatabase;
let receiver: WebhookReceiver;
beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await db?.drop();
});

it('sends every due delivery when the endpoints have more room than one claim takes', async () => {
  const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
  const secrets: string[] = [];
  for (let e = 0; e < 30; e++) {
    const { endpoint, secret } = await endpoints.create({ url: `${receiver.url}/${e}`, maxInFlight: 10 });
    secrets.push(secret);
    await db.pool.query(
      `WITH events AS (
         INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
                                      occurred_at, payload)
         SELECT 'evt_' || $1 || '_' || u, 0, 0, '', 'user-' || u, 'TEST', 'sandbox', now(),
                jsonb_build_object('appUserId', 'user-' || u)
         FROM generate_series(1, 10) AS u
         RETURNING id, app_user_id
       )
       INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id) SELECT $1, id, app_user_id FROM events`,
      [endpoint.id],
    );
  }
  receiver.trust(...secrets);
  const worker = startDeliveryWorker(db.pool, {
    allowPrivate: true,
    // Leases of 41 s: a delivery leased and not sent would wait that long.
    connectTimeoutMs: 5_000,
    requestTimeoutMs: 15_000,
  });
  try {
    const delivered = async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`)).rows[0]
        .n as number;
    expect(await eventually(delivered, (n) => n === 300, 15_000)).toBe(300);
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(300);
  } finally {
    await worker.stop();
  }
});

it('finds a due head behind more than a claim looks at first: a thousand held back for another customer', async () => {
  const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
  const { endpoint, secret } = await endpoints.create({ url: `${receiver.url}/held`, maxInFlight: 10 });
  receiver.trust(secret);
  const schedule = (user: string, count: number) =>
    db.pool.query(
      `WITH events AS (
         INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
                                      occurred_at, payload)
         SELECT 'evt_held_' || $2 || '_' || n, 0, 0, '', $2, 'TEST', 'sandbox', now(), jsonb_build_object('appUserId', $2)
         FROM generate_series(1, $3::int) AS n
         RETURNING id, app_user_id
       )
       INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id)
       SELECT $1, id, app_user_id FROM events ORDER BY id`,
      [endpoint.id, user, count],
    );
  // The first customer's head is being sent by someone else (a lease an hour long): the
  // 1,100 behind it wait, and they are the oldest due deliveries there are.
  await schedule('busy', 1_100);
  await db.pool.query(
    `UPDATE webhook_deliveries SET lease_until = now() + interval '1 hour'
     WHERE id = (SELECT min(id) FROM webhook_deliveries WHERE app_user_id = 'busy')`,
  );
  await schedule('waiting', 1);
  const worker = startDeliveryWorker(db.pool, { allowPrivate: true });
  try {
    const heard = () => receiver.received.filter((r) => r.appUserId === 'waiting').length;
    expect(
      await eventually(
        async () => heard(),
        (n) => n === 1,
      ),
    ).toBe(1);
    expect(receiver.received.filter((r) => r.appUserId === 'busy')).toEqual([]);
  } finally {
    await worker.stop();
  }
});
