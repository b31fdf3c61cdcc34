import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { initialBuy } from '../support/apple-notifications.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';
import { startTsProcess, waitForHttp } from '../support/subledger-process.ts';

/*
 * Issue 15: an API instance and a worker instance on one database, as separate processes
 * would run them (SUBLEDGER_ROLE=api and =worker; each its own pool and LISTEN connection).
 * The worker's own timers are a minute long, so what is done in seconds here was done
 * because the API instance woke it through the database.
 */
const MINUTE = '60000';
let api: AppleHarness;
let worker: Subledger;
let serverKey: string;
let adminKey: string;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  api = await startAppleHarness({ SUBLEDGER_ROLE: 'api', WEBHOOK_ALLOW_PRIVATE_URLS: 'on' });
  worker = await startSubledger(
    loadConfig({
      SUBLEDGER_ROLE: 'worker',
      DATABASE_URL: api.db.url,
      PORT: '0',
      INTAKE_IDLE_POLL_MS: MINUTE,
      PROJECTION_IDLE_POLL_MS: MINUTE,
      WEBHOOK_POLL_MS: MINUTE,
      WEBHOOK_ALLOW_PRIVATE_URLS: 'on',
      OPERATOR_ROUTES: 'public',
    }),
    silentLogger,
  );
  const keys = new ApiKeys(api.db.pool);
  serverKey = (await keys.create('app server', 'app-server')).secret;
  adminKey = (await keys.create('support: sam', 'admin')).secret;
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await receiver?.close();
});

const call = async (base: string, pathname: string, init: { method?: string; key?: string; body?: unknown } = {}) => {
  const response = await fetch(`${base}${pathname}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.key && { authorization: `Bearer ${init.key}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};
const customer = (appUserId: string) => call(api.subledger.url, `/v1/customers/${appUserId}`, { key: serverKey });

const DAY = 86_400_000;
const buy = initialBuy;

describe('an API instance and a worker', () => {
  it('a notification accepted by the API instance is processed by the worker it wakes', async () => {
    const user = randomUUID();
    const now = Date.now();
    expect((await customer(user)).body.entitlements).toEqual({});
    expect((await api.notify(buy(user, '5000000000000001', now))).status).toBe(200);
    const answer = await eventually(
      () => customer(user),
      (c) => Object.keys(c.body.entitlements).length > 0,
      10_000,
    );
    expect(answer.body.entitlements.premium).toMatchObject({
      active: true,
      expiresAt: new Date(now + 30 * DAY).toISOString(),
    });
  });

  it("a support agent's grant on the API instance shows in the answer right after it", async () => {
    const user = randomUUID();
    const granted = await call(api.subledger.url, `/v1/admin/customers/${user}/grants`, {
      method: 'POST',
      key: adminKey,
      body: { productId: 'premium_monthly', durationDays: 7, reason: 'apology for an outage' },
    });
    expect(granted.status).toBe(201);
    // Recorded on the API instance, projected by the worker, waited for through its announcement.
    const entitlement = (await customer(user)).body.entitlements.premium;
    expect(entitlement).toMatchObject({ active: true, expiresAt: granted.body.endsAt });
  });

  it("a support agent's test webhook, sent from the API instance, is delivered by the worker it wakes", async () => {
    const created = await call(api.subledger.url, '/v1/admin/webhooks/endpoints', {
      method: 'POST',
      key: adminKey,
      body: { url: receiver.url },
    });
    expect(created.status).toBe(201);
    receiver.trust(created.body.secret);
    const sent = await call(api.subledger.url, `/v1/admin/webhooks/endpoints/${created.body.endpoint.id}/test`, {
      method: 'POST',
      key: adminKey,
    });
    expect(sent.status).toBe(202);
    const received = await eventually(
      () => Promise.resolve(receiver.received),
      (all) => all.some((w) => w.id === sent.body.eventId),
      10_000,
    );
    expect(received.find((w) => w.id === sent.body.eventId)).toMatchObject({ type: 'TEST', verifiedBy: [0] });
  });

  it('the worker serves health and metrics only; the API instance reports ready without projections', async () => {
    expect((await call(worker.url, '/health')).status).toBe(200);
    const ready = await call(worker.url, '/ready');
    expect(ready).toMatchObject({ status: 200, body: { ready: true } });
    expect(ready.body.projections.map((p: { name: string }) => p.name)).toContain('purchases');
    expect((await fetch(`${worker.url}/v1/webhooks/apple`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${worker.url}/v1/customers/anyone`)).status).toBe(404);

    const apiReady = await call(api.subledger.url, '/ready');
    expect(apiReady).toMatchObject({ status: 200, body: { ready: true, projections: [] } });
  });

  it('`subledger serve --role worker` starts a worker, and stops on SIGTERM', async () => {
    const port = await freePort();
    const cli = startTsProcess(['bin/subledger.js', 'serve', '--role', 'worker'], {
      DATABASE_URL: api.db.url,
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await waitForHttp(`http://127.0.0.1:${port}/health`, cli);
    expect(cli.output()).toContain('"role":"worker"');
    expect((await fetch(`http://127.0.0.1:${port}/v1/customers/anyone`)).status).toBe(404);
    expect(await cli.stop()).toBe(0);
  });
});
