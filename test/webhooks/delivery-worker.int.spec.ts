import type { ServerResponse } from 'node:http';
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

/** Schedules one TEST event for each of `users` customers to `endpointId`. */
async function scheduleOneEach(endpointId: string, prefix: string, users: number): Promise<void> {
  await db.pool.query(
    `WITH events AS (
       INSERT INTO customer_events (id, ledger_commit, ledger_sequence, ledger_event_id, app_user_id, type, environment,
                                    occurred_at, payload)
       SELECT 'evt_' || $2 || '_' || u, 0, 0, '', $2 || '-' || u, 'TEST', 'sandbox', now(),
              jsonb_build_object('appUserId', $2 || '-' || u)
       FROM generate_series(1, $3::int) AS u
       RETURNING id, app_user_id
     )
     INSERT INTO webhook_deliveries (endpoint_id, event_id, app_user_id) SELECT $1, id, app_user_id FROM events ORDER BY id`,
    [endpointId, prefix, users],
  );
}

it('never has more requests open to an endpoint than its maxInFlight, and keeps that many going', async () => {
  const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
  const { endpoint } = await endpoints.create({ url: `${receiver.url}/limited`, maxInFlight: 3 });
  await scheduleOneEach(endpoint.id, 'limited', 40);
  let open = 0;
  let mostOpen = 0;
  receiver.behave((request, response) => {
    if (!request.url?.endsWith('/limited')) return;
    mostOpen = Math.max(mostOpen, ++open);
    setTimeout(() => {
      open--;
      response.writeHead(204).end();
    }, 20);
    return 'answered';
  });
  const worker = startDeliveryWorker(db.pool, { allowPrivate: true });
  try {
    const delivered = async () =>
      (
        await db.pool.query(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'delivered'`,
          [endpoint.id],
        )
      ).rows[0].n as number;
    expect(await eventually(delivered, (n) => n === 40, 15_000)).toBe(40);
    // The worker holds more than three leased (the next ones wait in it for a free slot), and
    // never sends more than three at once.
    expect(mostOpen).toBe(3);
  } finally {
    receiver.behave(undefined);
    await worker.stop();
  }
});

it('gives back, when it stops, the deliveries it holds and has not sent', async () => {
  const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
  const { endpoint } = await endpoints.create({ url: `${receiver.url}/stopping`, maxInFlight: 2 });
  await scheduleOneEach(endpoint.id, 'stopping', 20);
  const unanswered: ServerResponse[] = [];
  receiver.behave((request, response) => {
    if (!request.url?.endsWith('/stopping')) return;
    unanswered.push(response);
    return 'answered';
  });
  const worker = startDeliveryWorker(db.pool, { allowPrivate: true });
  const leased = async () =>
    (
      await db.pool.query(
        `SELECT count(*)::int AS n FROM webhook_deliveries
         WHERE endpoint_id = $1 AND status = 'pending' AND lease_until > now()`,
        [endpoint.id],
      )
    ).rows[0].n as number;
  try {
    // Two being sent, two more held waiting for them.
    expect(
      await eventually(
        async () => unanswered.length,
        (n) => n === 2,
      ),
    ).toBe(2);
    expect(await eventually(leased, (n) => n === 4)).toBe(4);
    const stopped = worker.stop();
    for (const response of unanswered) response.writeHead(204).end();
    await stopped;
    // The two sent are delivered; the two held are free for another worker at once, not
    // when their lease (seven seconds here) runs out.
    expect(await leased()).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY 1 ORDER BY 1`,
      [endpoint.id],
    );
    expect(rows).toEqual([
      { status: 'delivered', n: 2 },
      { status: 'pending', n: 18 },
    ]);
  } finally {
    receiver.behave(undefined);
  }
});
