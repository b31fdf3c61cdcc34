import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';

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

  it('counts made-up credentials against the address they come from', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${harness.subledger.url}/v1/customers/alice`, { headers: { authorization: `Bearer junk-${i}` } }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    // This address spent one request in the first test: four more 401s, then 429s.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(7);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
  });
});

describe('rate limits behind a trusted proxy', () => {
  let proxied: AppleHarness;
  beforeAll(async () => {
    proxied = await startAppleHarness({ RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '127.0.0.1' });
  });
  afterAll(() => proxied?.stop());
  const anonymous = (forwardedFor?: string) =>
    fetch(`${proxied.subledger.url}/v1/content`, {
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    }).then((a) => a.status);

  it('limits each client the proxy names, not the proxy', async () => {
    for (let i = 0; i < 3; i++) expect(await anonymous('203.0.113.7')).toBe(200);
    expect(await anonymous('203.0.113.7')).toBe(429);
    expect(await anonymous('198.51.100.2')).toBe(200);
  });
});

describe('unknown API keys', () => {
  it('are remembered, so guessing costs no query each time', async () => {
    const { Authenticator } = await import('../../src/auth/authenticator.ts');
    const authenticator = new Authenticator(new ApiKeys(harness.db.pool), undefined, { clock: systemClock });
    await expect(authenticator.authenticate('Bearer sl_guess')).rejects.toMatchObject({ code: 'token_invalid' });
    // With the table gone, a second look-up would fail with a database error, not refuse the key.
    await harness.db.pool.query('ALTER TABLE api_keys RENAME TO api_keys_away');
    try {
      await expect(authenticator.authenticate('Bearer sl_guess')).rejects.toMatchObject({ code: 'token_invalid' });
    } finally {
      await harness.db.pool.query('ALTER TABLE api_keys_away RENAME TO api_keys');
    }
  });
});
