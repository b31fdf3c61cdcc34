import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevTokens } from '../../src/auth/dev-tokens.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';

/* Likes over HTTP, as app users (development tokens stand in for an identity provider). */
let harness: AppleHarness;
let devTokens: DevTokens;
beforeAll(async () => {
  harness = await startAppleHarness({ AUTH_DEV_TOKENS: 'on', RATE_LIMIT_PER_MINUTE: '0' });
  devTokens = new DevTokens(harness.db.pool, systemClock);
});
afterAll(() => harness?.stop());

async function as(appUserId: string, method: string, path: string) {
  const token = await devTokens.mint(appUserId, 600);
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
const likesOf = async (item: string, user = 'reader') => (await as(user, 'GET', `/v1/content/${item}/likes`)).body;

describe('likes', () => {
  it('are idempotent, per user, and counted in listings', async () => {
    const item = 'recipe-overnight-oats';
    expect((await as('alice', 'PUT', `/v1/content/${item}/like`)).status).toBe(204);
    expect((await as('alice', 'PUT', `/v1/content/${item}/like`)).status).toBe(204);
    expect(await likesOf(item, 'alice')).toEqual({ count: 1, likedByMe: true });
    await as('bob', 'PUT', `/v1/content/${item}/like`);
    expect(await likesOf(item, 'carol')).toEqual({ count: 2, likedByMe: false });
    await as('alice', 'DELETE', `/v1/content/${item}/like`);
    await as('alice', 'DELETE', `/v1/content/${item}/like`);
    expect(await likesOf(item, 'alice')).toEqual({ count: 1, likedByMe: false });
    const listing = (await (await fetch(`${harness.subledger.url}/v1/content?kind=recipe`)).json()) as {
      items: { id: string; likes: number }[];
    };
    expect(listing.items.find((i) => i.id === item)?.likes).toBe(1);
  });

  it('stay exact under concurrent likes and unlikes, spread over shards', async () => {
    const item = 'workout-hiit-20';
    const users = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    await Promise.all(users.map((user) => as(user, 'PUT', `/v1/content/${item}/like`)));
    await Promise.all([
      ...users.slice(0, 25).map((user) => as(user, 'DELETE', `/v1/content/${item}/like`)),
      ...users.slice(30, 40).map((user) => as(user, 'PUT', `/v1/content/${item}/like`)), // liked already
    ]);
    expect((await likesOf(item)).count).toBe(35);
    const { rows: likers } = await harness.db.pool.query(
      `SELECT count(*)::int AS n FROM content_likes WHERE content_id = $1`,
      [item],
    );
    expect(likers[0].n).toBe(35); // the count agrees with who likes it
    const { rows } = await harness.db.pool.query(
      `SELECT count(*)::int AS shards FROM content_like_counts WHERE content_id = $1`,
      [item],
    );
    expect(rows[0].shards).toBeGreaterThan(4);
  });

  it('are for app users only, and only on content that exists', async () => {
    const anonymous = await fetch(`${harness.subledger.url}/v1/content/workout-hiit-20/like`, { method: 'PUT' });
    expect(anonymous.status).toBe(401);
    expect((await harness.get('/v1/content/workout-hiit-20/likes')).status).toBe(403); // an API key
    expect((await as('alice', 'PUT', '/v1/content/no-such-thing/like')).body).toMatchObject({
      code: 'unknown_content',
    });
  });
});
