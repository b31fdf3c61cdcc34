import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { DevTokens } from '../../src/auth/dev-tokens.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';

/*
 * Admins manage content items over HTTP (the sample seed, catalog/sample-content.json, is
 * there to start with); the public content routes of the same instance show every change at
 * once. Only an admin API key gets in; a refused write changes nothing.
 */
let harness: AppleHarness;
let admin: string;
let appServer: string;
let appUser: string;
beforeAll(async () => {
  harness = await startAppleHarness({ AUTH_DEV_TOKENS: 'on', RATE_LIMIT_PER_MINUTE: '0' });
  const keys = new ApiKeys(harness.db.pool);
  admin = (await keys.create('ops', 'admin')).secret;
  appServer = (await keys.create('backend', 'app-server')).secret;
  appUser = await new DevTokens(harness.db.pool, systemClock).mint('alice', 600);
});
afterAll(() => harness?.stop());

async function call(method: string, path: string, options: { body?: unknown; as?: string | null } = {}) {
  const credential = options.as === undefined ? admin : options.as;
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: {
      ...(credential && { authorization: `Bearer ${credential}` }),
      ...(options.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(options.body !== undefined && {
      body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    etag: response.headers.get('etag'),
    body: text ? JSON.parse(text) : null,
  };
}
type Answer = Awaited<ReturnType<typeof call>>;
const put = (id: string, body: unknown, as?: string | null) => call('PUT', `/v1/admin/content/${id}`, { body, as });
const importItems = (body: unknown, as?: string | null) => call('POST', '/v1/admin/content/import', { body, as });
const remove = (id: string, as?: string | null) => call('DELETE', `/v1/admin/content/${id}`, { as });
/** The public route, anonymous: free items come with their body. */
const read = (id: string) => call('GET', `/v1/content/${id}`, { as: null });

function expectProblem(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.body?.code }).toEqual({ status, code });
  expect(answer.type).toContain('application/problem+json');
}

/** Everything a content write can touch, to show a refused one touched nothing. */
async function contentTables() {
  const { rows } = await harness.db.pool.query(
    `SELECT (SELECT coalesce(json_agg(c ORDER BY content_id), '[]') FROM content_items c) AS items,
            (SELECT coalesce(json_agg(l ORDER BY content_id, app_user_id), '[]') FROM content_likes l) AS likes,
            (SELECT coalesce(json_agg(n ORDER BY content_id, shard), '[]') FROM content_like_counts n) AS counts`,
  );
  return rows[0];
}
async function leavesContentAsItWas(write: () => Promise<Answer>): Promise<Answer> {
  const before = await contentTables();
  const answer = await write();
  expect(await contentTables()).toEqual(before);
  return answer;
}

const fields = (title: string, extra: Record<string, unknown> = {}) => ({
  kind: 'recipe',
  title,
  summary: `${title}, in short`,
  body: `How to make ${title}`,
  tags: ['test'],
  requiredEntitlement: null,
  ...extra,
});

describe('PUT /v1/admin/content/{id}', () => {
  it('creates an item (201) that the public route then serves', async () => {
    expectProblem(await read('recipe-shakshuka'), 404, 'unknown_content');
    const created = await put('recipe-shakshuka', fields('Shakshuka'));
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: 'recipe-shakshuka',
      ...fields('Shakshuka'),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect(await read('recipe-shakshuka')).toMatchObject({ status: 200, body: { body: 'How to make Shakshuka' } });
  });

  it('takes the defaults of the seed file: no tags, free', async () => {
    const { kind, title, summary, body } = fields('Flatbread');
    const created = await put('recipe-flatbread', { kind, title, summary, body });
    expect(created).toMatchObject({ status: 201, body: { tags: [], requiredEntitlement: null } });
  });

  it('replaces an item (200): this instance serves the new body at once, with a new updatedAt and ETag', async () => {
    const id = 'recipe-overnight-oats'; // from the seed, free
    const before = await read(id); // now in this instance's content cache
    const listed = await call('GET', '/v1/content?kind=recipe', { as: null }); // and so is this page
    expect(listed.body.items.map((i: { id: string }) => i.id)).toContain(id);

    const replaced = await put(id, fields('Overnight oats, chocolate', { tags: ['breakfast'] }));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id, title: 'Overnight oats, chocolate', tags: ['breakfast'] });
    expect(Date.parse(replaced.body.updatedAt)).toBeGreaterThan(Date.parse(before.body.updatedAt));

    const after = await read(id);
    expect(after.body).toMatchObject({
      title: 'Overnight oats, chocolate',
      body: 'How to make Overnight oats, chocolate',
    });
    expect(after.body.updatedAt).toBe(replaced.body.updatedAt);
    expect(after.etag).not.toBe(before.etag);
    const relisted = await call('GET', '/v1/content?kind=recipe', { as: null });
    expect(relisted.body.items.find((i: { id: string }) => i.id === id).title).toBe('Overnight oats, chocolate');
  });

  it('changes nothing when sent the stored item again: same updatedAt, same ETag (200)', async () => {
    const item = fields('Miso soup', { tags: ['soup', 'quick'] });
    const first = await put('recipe-miso', item);
    const seen = await read('recipe-miso');
    const again = await leavesContentAsItWas(() => put('recipe-miso', item));
    expect(again).toMatchObject({ status: 200, body: first.body });
    expect((await read('recipe-miso')).etag).toBe(seen.etag);
    // Any difference is a change, the order of tags too.
    const reordered = await put('recipe-miso', { ...item, tags: ['quick', 'soup'] });
    expect(reordered.body.updatedAt).not.toBe(first.body.updatedAt);
  });

  it('refuses a bad body or id (400 malformed_request), changing nothing', async () => {
    const refusals = [
      () => put('recipe-x', { ...fields('X'), title: '' }),
      () => put('recipe-x', { ...fields('X'), id: 'recipe-x' }), // the id is in the path only
      () => put('recipe-x', { ...fields('X'), colour: 'red' }),
      () => put('recipe-x', { ...fields('X'), tags: 'one' }),
      () => put('recipe-x', '{"kind": "recipe",'),
      () => put('Not An Id', fields('X')),
    ];
    for (const refusal of refusals) expectProblem(await leavesContentAsItWas(refusal), 400, 'malformed_request');
    expectProblem(await read('recipe-x'), 404, 'unknown_content');
  });

  it('refuses callers without an admin key (401, 403), before reading the body', async () => {
    expectProblem(await put('recipe-x', fields('X'), null), 401, 'unauthenticated');
    expectProblem(await put('recipe-x', fields('X'), 'sl_nosuchkey'), 401, 'token_invalid');
    expectProblem(await put('recipe-x', { bad: true }, null), 401, 'unauthenticated');
    expectProblem(await put('recipe-x', fields('X'), appServer), 403, 'forbidden');
    expectProblem(await put('recipe-x', fields('X'), appUser), 403, 'forbidden');
    expectProblem(await read('recipe-x'), 404, 'unknown_content');
  });

  it('refuses a body over 1 MiB (413 body_too_large)', async () => {
    const answer = await leavesContentAsItWas(() => put('recipe-x', fields('X', { body: 'x'.repeat(1024 * 1024) })));
    expectProblem(answer, 413, 'body_too_large');
  });

  it('refuses text PostgreSQL cannot store (422 unstorable_text)', async () => {
    expectProblem(await put('recipe-x', fields('X', { body: 'a\u0000b' })), 422, 'unstorable_text');
    expectProblem(await put('recipe-x', fields('X', { title: 'a\ud800b' })), 422, 'unstorable_text');
    expectProblem(await read('recipe-x'), 404, 'unknown_content');
  });
});

describe('POST /v1/admin/content/import', () => {
  it('creates, replaces and leaves alone, and counts which', async () => {
    const { body: stored } = await put('recipe-ramen', fields('Ramen'));
    const { updatedAt, id, ...unchanged } = stored;
    const answer = await importItems([
      { id: 'workout-plank-5', ...fields('Plank 5', { kind: 'workout', requiredEntitlement: 'premium' }) },
      { id: 'workout-mobility-10', ...fields('Mobility 12', { kind: 'workout' }) }, // from the seed
      { id, ...unchanged },
    ]);
    expect(answer).toMatchObject({ status: 200, body: { created: 1, updated: 1, unchanged: 1 } });
    expect((await read('workout-mobility-10')).body).toMatchObject({
      title: 'Mobility 12',
      body: 'How to make Mobility 12',
    });
    expect((await read('workout-plank-5')).body).toMatchObject({
      code: 'entitlement_required',
      item: { title: 'Plank 5' },
    });
    expect((await read('recipe-ramen')).body.updatedAt).toBe(updatedAt);
    expect((await importItems([])).body).toEqual({ created: 0, updated: 0, unchanged: 0 });
  });

  it(`takes up to 1,000 items at once`, async () => {
    const items = Array.from({ length: 1_000 }, (_, i) => ({ id: `bulk-${i}`, ...fields(`Bulk ${i}`) }));
    expect((await importItems(items)).body).toEqual({ created: 1_000, updated: 0, unchanged: 0 });
    expect((await importItems(items)).body).toEqual({ created: 0, updated: 0, unchanged: 1_000 });
    const answer = await leavesContentAsItWas(() =>
      importItems([...items, { id: 'bulk-1000', ...fields('One more') }]),
    );
    expectProblem(answer, 400, 'malformed_request');
  });

  it('takes ids as long as the public routes read (128 characters), and refuses longer ones', async () => {
    const id = `r${'-'.repeat(126)}x`;
    expect((await importItems([{ id, ...fields('Long id') }])).body).toMatchObject({ created: 1 });
    expect((await read(id)).body).toMatchObject({ id, title: 'Long id' });
    expect((await remove(id)).status).toBe(204);
    expectProblem(await importItems([{ id: `${id}y`, ...fields('Too long') }]), 400, 'malformed_request');
  });

  // The items before the bad one would be stored if the import were not one transaction.
  const goodThenBad = (bad: Record<string, unknown>) => [
    { id: 'recipe-new-in-batch', ...fields('New in the batch') },
    { id: 'recipe-salmon-bowl', ...fields('Salmon, changed by the batch') },
    { id: 'recipe-last', ...fields('Last'), ...bad },
  ];

  it('stores nothing when the database refuses one item (422 unstorable_text)', async () => {
    const answer = await leavesContentAsItWas(() => importItems(goodThenBad({ body: 'a\u0000b' })));
    expectProblem(answer, 422, 'unstorable_text');
    expectProblem(await read('recipe-new-in-batch'), 404, 'unknown_content');
  });

  it('refuses ids given twice (422 duplicate_content_id), storing nothing', async () => {
    const batch = [...goodThenBad({}), { id: 'recipe-new-in-batch', ...fields('Again') }];
    const answer = await leavesContentAsItWas(() => importItems(batch));
    expectProblem(answer, 422, 'duplicate_content_id');
    expect(answer.body.detail).toContain('recipe-new-in-batch');
  });

  it('refuses an invalid item (400 malformed_request), storing nothing', async () => {
    for (const bad of [{ kind: '' }, { id: 'Bad Id' }, { id: 'a'.repeat(129) }, { requiredEntitlement: 7 }]) {
      expectProblem(await leavesContentAsItWas(() => importItems(goodThenBad(bad))), 400, 'malformed_request');
    }
    expectProblem(await leavesContentAsItWas(() => importItems({ items: [] })), 400, 'malformed_request');
  });

  it('refuses callers without an admin key (401, 403)', async () => {
    const batch = goodThenBad({});
    expectProblem(await leavesContentAsItWas(() => importItems(batch, null)), 401, 'unauthenticated');
    expectProblem(await leavesContentAsItWas(() => importItems(batch, 'sl_nosuchkey')), 401, 'token_invalid');
    expectProblem(await leavesContentAsItWas(() => importItems(batch, appServer)), 403, 'forbidden');
    expectProblem(await leavesContentAsItWas(() => importItems(batch, appUser)), 403, 'forbidden');
  });

  it('refuses a body over 8 MiB (413 body_too_large)', async () => {
    const big = Array.from({ length: 9 }, (_, i) => ({
      id: `big-${i}`,
      ...fields('Big', { body: 'x'.repeat(1024 * 1024) }),
    }));
    expectProblem(await leavesContentAsItWas(() => importItems(big)), 413, 'body_too_large');
  });
});

describe('DELETE /v1/admin/content/{id}', () => {
  it('deletes an item (204) and its likes; the public route then answers 404', async () => {
    const id = 'recipe-to-delete';
    await put(id, fields('Soon gone'));
    expect((await call('PUT', `/v1/content/${id}/like`, { as: appUser })).status).toBe(204);
    expect((await read(id)).status).toBe(200); // remembered by this instance
    expect(await remove(id)).toMatchObject({ status: 204, body: null });
    expectProblem(await read(id), 404, 'unknown_content');
    const { rows } = await harness.db.pool.query(
      `SELECT (SELECT count(*)::int FROM content_likes WHERE content_id = $1) +
              (SELECT count(*)::int FROM content_like_counts WHERE content_id = $1) AS n`,
      [id],
    );
    expect(rows[0].n).toBe(0);
    // Created again under the same id, it starts with no likes.
    await put(id, fields('Back again'));
    expect((await call('GET', `/v1/content/${id}/likes`, { as: appUser })).body).toEqual({
      count: 0,
      likedByMe: false,
    });
  });

  it('answers 404 unknown_content for an item that is not there', async () => {
    expectProblem(await leavesContentAsItWas(() => remove('nothing-here')), 404, 'unknown_content');
    await put('recipe-once', fields('Once'));
    expect((await remove('recipe-once')).status).toBe(204);
    expectProblem(await remove('recipe-once'), 404, 'unknown_content');
  });

  it('refuses a bad id (400) and callers without an admin key (401, 403), deleting nothing', async () => {
    const id = 'workout-hiit-20';
    expectProblem(await leavesContentAsItWas(() => remove('Not An Id')), 400, 'malformed_request');
    expectProblem(await leavesContentAsItWas(() => remove(id, null)), 401, 'unauthenticated');
    expectProblem(await leavesContentAsItWas(() => remove(id, 'sl_nosuchkey')), 401, 'token_invalid');
    expectProblem(await leavesContentAsItWas(() => remove(id, appServer)), 403, 'forbidden');
    expectProblem(await leavesContentAsItWas(() => remove(id, appUser)), 403, 'forbidden');
  });
});

describe('the OpenAPI document', () => {
  it('has the three routes, for admins (a bearer credential), with every answer they give (no 429: the rate limit is off here)', async () => {
    const { body } = await call('GET', '/openapi.json', { as: null });
    const item = body.paths['/v1/admin/content/{id}'];
    const answers = (operation: { responses: object; security: unknown }) => ({
      security: operation.security,
      statuses: Object.keys(operation.responses).sort(),
    });
    expect(answers(item.put)).toEqual({
      security: [{ bearer: [] }],
      statuses: ['200', '201', '400', '401', '403', '413', '415', '422', '500'],
    });
    expect(answers(body.paths['/v1/admin/content/import'].post)).toEqual({
      security: [{ bearer: [] }],
      statuses: ['200', '400', '401', '403', '413', '415', '422', '500'],
    });
    expect(answers(item.delete)).toEqual({
      security: [{ bearer: [] }],
      statuses: ['204', '400', '401', '403', '404', '413', '415', '500'],
    });
  });
});
