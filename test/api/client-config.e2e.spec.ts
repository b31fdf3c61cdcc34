import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/* Client configuration from the sample seed (catalog/sample-client-config.json), over HTTP. */
let harness: AppleHarness;
let admin: string;
beforeAll(async () => {
  harness = await startAppleHarness();
  admin = (await new ApiKeys(harness.db.pool).create('ops', 'admin')).secret;
});
afterAll(() => harness?.stop());

const config = (query: string, headers: Record<string, string> = {}) =>
  fetch(`${harness.subledger.url}/v1/clients/pulse/config?${query}`, { headers });

describe('GET /v1/clients/{clientId}/config', () => {
  it('resolves the rules for a platform and version', async () => {
    const old = await (await config('platform=ios&version=1.2.0')).json();
    expect(old).toMatchObject({ forceUpdate: true, minimumVersion: '1.5.0', offering: 'standard' });
    const recent = await (await config('platform=ios&version=2.1.0')).json();
    expect(recent).toMatchObject({
      forceUpdate: false,
      offering: 'winter_promo',
      flags: { workoutVideos: true, recipes: true, coachingChat: true },
      contentKinds: ['workout', 'recipe', 'program'],
    });
    const android = await (await config('platform=android&version=2.1.0')).json();
    expect(android).toMatchObject({ offering: 'standard', flags: { coachingChat: true } });
  });

  it('is cacheable: an ETag, and 304 when it has not changed', async () => {
    const first = await config('platform=ios&version=1.9.3');
    expect(first.headers.get('cache-control')).toContain('s-maxage');
    const etag = first.headers.get('etag')!;
    expect((await config('platform=ios&version=1.9.3', { 'if-none-match': etag })).status).toBe(304);
    expect((await config('platform=ios&version=2.0.0', { 'if-none-match': etag })).status).toBe(200);
  });

  it('refuses a bad query and an unknown client', async () => {
    expect((await config('platform=web&version=1.0.0')).status).toBe(400);
    expect((await config('platform=ios&version=latest')).status).toBe(400);
    const unknown = await fetch(`${harness.subledger.url}/v1/clients/nobody/config?platform=ios&version=1.0.0`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: string }).code).toBe('unknown_client');
  });
});

describe('PUT /v1/admin/clients/{clientId}/config', () => {
  const document = {
    defaults: { flags: { beta: false }, contentKinds: ['workout'] },
    rules: [{ versions: '>=3.0.0', set: { flags: { beta: true } } }],
  };
  const put = (body: unknown, credential: string) =>
    fetch(`${harness.subledger.url}/v1/admin/clients/trainer/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${credential}` },
      body: JSON.stringify(body),
    });

  it('lets an admin replace a configuration, which applies at once', async () => {
    expect((await put(document, admin)).status).toBe(200);
    const resolved = await fetch(`${harness.subledger.url}/v1/clients/trainer/config?platform=android&version=3.1.0`);
    expect(await resolved.json()).toMatchObject({ flags: { beta: true }, forceUpdate: false });
  });

  it('refuses other callers and bad documents, changing nothing', async () => {
    const server = (await new ApiKeys(harness.db.pool).create('backend', 'app-server')).secret;
    expect((await put(document, server)).status).toBe(403);
    expect((await put({ ...document, rules: [{ versions: 'soon', set: {} }] }, admin)).status).toBe(422);
    expect((await put({ defaults: {} }, admin)).status).toBe(400);
  });
});
