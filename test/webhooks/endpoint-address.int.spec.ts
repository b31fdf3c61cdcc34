import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { startDeliveryWorker } from '../support/delivery-worker.ts';
import { endpointUrlProblem, guardedLookup, isPublicAddress } from '../../src/webhooks/endpoint-address.ts';
import { WebhookDeliveries } from '../../src/webhooks/webhook-deliveries.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

/*
 * Issue 14: webhooks go to public addresses only (SSRF), unless a setting allows private
 * ones: checked on the URL when an endpoint is saved, and again on every address DNS
 * gives when a delivery connects, so a name that resolves to 127.0.0.1 is refused then.
 */
describe('which URLs an endpoint may have', () => {
  const problem = (url: string) => endpointUrlProblem(url, { allowPrivate: false });

  it('takes public http(s) URLs', () => {
    expect(problem('https://hooks.example.com/subledger')).toBeUndefined();
    expect(problem('https://93.184.215.14/hook')).toBeUndefined();
    expect(problem('https://[2606:4700::1111]/hook')).toBeUndefined();
  });

  it('refuses private, loopback, link-local and odd addresses, local names, and other schemes', () => {
    for (const url of [
      'http://127.0.0.1/hook',
      'http://10.1.2.3/hook',
      'http://172.16.0.1/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/hook',
      'http://0.0.0.0/hook',
      'http://[::1]/hook',
      'http://[fe80::1]/hook',
      'http://[fd00::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a00:1]/hook',
      'http://localhost/hook',
      'http://api.localhost/hook',
      'http://intranet/hook',
      'ftp://example.com/hook',
      'https://user:pass@example.com/hook',
      'not a url',
    ]) {
      expect(problem(url), url).toBeDefined();
    }
    expect(endpointUrlProblem('http://127.0.0.1:8080/hook', { allowPrivate: true })).toBeUndefined();
  });

  it('tells public addresses from the others', () => {
    expect(['8.8.8.8', '2001:4860:4860::8888'].map(isPublicAddress)).toEqual([true, true]);
    expect(['127.0.0.1', '::1', '10.0.0.1', '::ffff:10.0.0.1', 'not-an-ip'].map(isPublicAddress)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('refuses, at connect time, a name that resolves to a loopback address', async () => {
    const lookup = (allowPrivate: boolean) =>
      new Promise<string>((resolve) =>
        guardedLookup({ allowPrivate })('localhost', {}, (error, address) =>
          resolve(error ? error.message : String(address)),
        ),
      );
    expect(await lookup(false)).toMatch(/resolves to .*, not a public address/);
    expect(await lookup(true)).toMatch(/^(127\.0\.0\.1|::1)$/);
  });
});

describe('a delivery to an endpoint saved under looser address rules', () => {
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

  it('is never sent, whether the URL names a local host or a private address: the attempt fails, as any failure', async () => {
    // Saved where private receivers were allowed...
    const saved = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
    const byName = await saved.create({ url: receiver.url.replace('127.0.0.1', 'localhost') });
    const byAddress = await saved.create({ url: receiver.url });
    receiver.trust(byName.secret, byAddress.secret);
    const deliveries = new WebhookDeliveries(db.pool, systemClock);
    for (const { endpoint } of [byName, byAddress]) await deliveries.sendTest(endpoint.id);
    // ...sent by a worker that allows public addresses only.
    const worker = startDeliveryWorker(db.pool, { allowPrivate: false });
    try {
      const attempted = async (endpointId: string) =>
        (await eventually(
          async () => (await deliveries.recent(endpointId, 1))[0],
          (d) => d?.attempts === 1,
        ))!;
      // Refused before any connection. (A public-looking name that resolves to a local
      // address is refused by the lookup above, when the connection is made.)
      expect(await attempted(byName.endpoint.id)).toMatchObject({
        status: 'pending',
        lastStatus: null,
        lastError: 'the endpoint URL is not a public host name',
      });
      // An address in the URL is never looked up: the URL itself is checked.
      expect(await attempted(byAddress.endpoint.id)).toMatchObject({
        status: 'pending',
        lastError: 'the endpoint URL is not a public address',
      });
      expect(receiver.received).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
