import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/* Issue 14: the endpoints' own rules, whoever calls them (the admin API, the CLI). */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('webhook endpoints', () => {
  it('can still be disabled after the address rules got stricter; only a new URL is checked', async () => {
    const loose = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
    const strict = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: false });
    const { endpoint } = await loose.create({ url: 'http://127.0.0.1:4000/hooks' });
    expect(await strict.update(endpoint.id, { enabled: false })).toMatchObject({ enabled: false });
    await expect(strict.update(endpoint.id, { url: 'http://10.0.0.1/hooks' })).rejects.toMatchObject({
      code: 'invalid_endpoint_url',
    });
  });

  it('keep a field given as undefined, and refuse environments and limits that could never work', async () => {
    const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
    const { endpoint } = await endpoints.create({ url: 'http://127.0.0.1:4000/a', eventTypes: ['REFUND'] });
    expect(await endpoints.update(endpoint.id, { eventTypes: undefined, description: 'x' })).toMatchObject({
      eventTypes: ['REFUND'],
      description: 'x',
    });
    for (const bad of [
      { environments: ['staging'] },
      { maxInFlight: 1.5 },
      { maxInFlight: 0 },
      { maxInFlight: 5000 },
    ]) {
      await expect(endpoints.create({ url: 'http://127.0.0.1:4000/b', ...bad })).rejects.toMatchObject({
        code: 'invalid_endpoint',
      });
    }
  });

  it('keep every secret when rotations run at once', async () => {
    const endpoints = new WebhookEndpoints(db.pool, systemClock, { allowPrivate: true });
    const { endpoint, secret } = await endpoints.create({ url: 'http://127.0.0.1:4000/c' });
    // Connections open first, so the rotations truly overlap.
    await Promise.all(Array.from({ length: 8 }, () => db.pool.query('SELECT pg_sleep(0.02)')));
    const rotated = await Promise.all(Array.from({ length: 8 }, () => endpoints.rotateSecret(endpoint.id)));
    const live = await endpoints.signingSecrets(endpoint.id);
    expect(new Set(live)).toEqual(new Set([secret, ...rotated.map((r) => r.secret)]));
  });
});
