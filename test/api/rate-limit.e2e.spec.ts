import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/* Per-client rate limits on public routes; the stores' webhooks and the probes are never limited. */
let harness: AppleHarness;
beforeAll(async () => {
  harness = await startAppleHarness({ RATE_LIMIT_PER_MINUTE: '5' });
});
afterAll(() => harness?.stop());

describe('rate limits', () => {
  it('answers 429 rate_limited to a client over its limit, and only to that client', async () => {
    for (let i = 0; i < 5; i++) expect((await harness.get('/v1/customers/alice')).status).toBe(200);
    // Another credential has its own budget (refused for being unknown, not for the limit).
    const unknown = await fetch(`${harness.subledger.url}/v1/customers/alice`, {
      headers: { authorization: 'Bearer sl_unknown' },
    });
    expect(unknown.status).toBe(401);
    const over = await harness.get('/v1/customers/alice');
    expect(over).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    expect(over.type).toContain('application/problem+json');
    expect(
      (await fetch(`${harness.subledger.url}/v1/customers/alice`, { headers: { authorization: 'Bearer sl_unknown' } }))
        .status,
    ).toBe(401);
    const { secret } = await new ApiKeys(harness.db.pool).create('another server', 'app-server');
    const other = await fetch(`${harness.subledger.url}/v1/customers/alice`, {
      headers: { authorization: `Bearer ${secret}` },
    });
    expect(other.status).toBe(200);
  });

  it('never limits the App Store webhook or the health probes', async () => {
    for (let i = 0; i < 8; i++) {
      expect((await harness.post('/v1/webhooks/apple', { nothing: true })).status).toBe(400);
      expect((await fetch(`${harness.subledger.url}/health`)).status).toBe(200);
    }
  });
});
