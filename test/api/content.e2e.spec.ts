import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anEntitlement } from '../support/entitlements.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/* Premium content from the sample seed (catalog/sample-content.json), with scoped tokens, over HTTP. */
let harness: AppleHarness;
let premiumToken: string;
beforeAll(async () => {
  harness = await startAppleHarness();
  premiumToken = (await harness.subledger.tokens.issue('alice', [anEntitlement()])).token;
});
afterAll(() => harness?.stop());

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${harness.subledger.url}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('GET /v1/content', () => {
  it('lists public fields, locked for what the scope does not hold', async () => {
    const anonymous = await get('/v1/content?kind=recipe');
    expect(anonymous.headers.get('x-entitlement-scope')).toBe('');
    expect(anonymous.body.items.map((i: { id: string; locked: boolean }) => [i.id, i.locked])).toEqual([
      ['recipe-overnight-oats', false],
      ['recipe-salmon-bowl', true],
    ]);
    expect(anonymous.body.items[0].body).toBeUndefined();
    const subscriber = await get('/v1/content?kind=recipe', bearer(premiumToken));
    expect(subscriber.headers.get('x-entitlement-scope')).toBe('premium');
    expect(subscriber.body.items.every((i: { locked: boolean }) => !i.locked)).toBe(true);
  });

  it('pages with a cursor', async () => {
    const first = await get('/v1/content?limit=2');
    const second = await get(`/v1/content?limit=2&cursor=${first.body.nextCursor}`);
    const ids = [...first.body.items, ...second.body.items].map((i: { id: string }) => i.id);
    expect(new Set(ids).size).toBe(4);
    expect(ids).toEqual([...ids].sort());
  });
});

describe('GET /v1/content/{id}', () => {
  it('gives the body to a scope holding the entitlement, and the public part with 403 otherwise', async () => {
    const unlocked = await get('/v1/content/workout-hiit-20', bearer(premiumToken));
    expect(unlocked).toMatchObject({ status: 200, body: { locked: false, body: expect.stringContaining('burpees') } });
    const locked = await get('/v1/content/program-coach-plan', bearer(premiumToken));
    expect(locked).toMatchObject({
      status: 403,
      body: { code: 'entitlement_required', item: { id: 'program-coach-plan', locked: true } },
    });
    expect(locked.body.item.body).toBeUndefined();
    expect((await get('/v1/content/workout-hiit-20')).status).toBe(403);
  });

  it('is cacheable per scope: an ETag and 304', async () => {
    const first = await get('/v1/content/workout-mobility-10');
    expect(first.headers.get('vary')).toContain('x-entitlement-scope');
    expect(first.headers.get('cache-control')).toContain('s-maxage');
    const again = await get('/v1/content/workout-mobility-10', { 'if-none-match': first.headers.get('etag')! });
    expect(again.status).toBe(304);
  });

  it('refuses a forged token with its code, and answers 404 for unknown content', async () => {
    const [header, payload, signature] = premiumToken.split('.');
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    expect(await get('/v1/content/workout-hiit-20', bearer(forged))).toMatchObject({
      status: 401,
      body: { code: 'token_invalid' },
    });
    expect(await get('/v1/content/nothing-here')).toMatchObject({ status: 404, body: { code: 'unknown_content' } });
  });
});
