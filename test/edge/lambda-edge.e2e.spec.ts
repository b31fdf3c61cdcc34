import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleLambdaEdge } from '../../edge/build.ts';
import {
  lambdaEdgeHandlers,
  type CloudFrontHeaders,
  type CloudFrontRequest,
  type CloudFrontRequestEvent,
  type CloudFrontResponse,
} from '../../edge/src/lambda-edge.ts';
import { edgeSettings } from '../../edge/src/settings.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { anEntitlement } from '../support/entitlements.ts';

/*
 * Issue 13, the CloudFront form: the two Lambda@Edge triggers, called in-process with
 * CloudFront's event shapes, in front of a real Subledger that takes no tokens directly.
 * What CloudFront itself does (the cache lookup on path and X-Entitlement-Scope, the
 * origin request) the test does: it sends the request the triggers leave to the origin.
 */
const PROOF_KEY = 'edge-1:' + 'c'.repeat(40);
const PREMIUM_ITEM = '/v1/content/workout-hiit-20';

/** The edge's clock, and the service's: real time, moved back for an old token. */
let shift = 0;
const clock = { now: () => new Date(Date.now() + shift) };

let harness: AppleHarness;
let handlers: ReturnType<typeof lambdaEdgeHandlers>;
beforeAll(async () => {
  harness = await startAppleHarness({ EDGE_PROOF_KEYS: PROOF_KEY, EDGE_DIRECT_TOKENS: 'off' }, { clock });
  const settings = edgeSettings({ ORIGIN_URL: harness.subledger.url, EDGE_PROOF_KEY: PROOF_KEY });
  handlers = lambdaEdgeHandlers(settings, { now: () => clock.now().getTime() });
});
afterAll(async () => {
  await harness?.stop();
});

function event(eventType: string, request: CloudFrontRequest): CloudFrontRequestEvent {
  return { Records: [{ cf: { config: { eventType }, request } }] };
}

function viewerRequest(uri: string, headers: Record<string, string> = {}, querystring = ''): CloudFrontRequest {
  const cloudFrontHeaders: CloudFrontHeaders = { host: [{ key: 'Host', value: 'd111111abcdef8.cloudfront.net' }] };
  for (const [name, value] of Object.entries(headers)) cloudFrontHeaders[name.toLowerCase()] = [{ key: name, value }];
  return { clientIp: '203.0.113.178', method: 'GET', uri, querystring, headers: cloudFrontHeaders };
}

const isAnswer = (result: CloudFrontRequest | CloudFrontResponse): result is CloudFrontResponse => 'status' in result;
const header = (headers: CloudFrontHeaders, name: string) => headers[name]?.[0]?.value;

/** The viewer-request trigger, then (on a miss) the origin-request one, then the origin, as CloudFront would. */
async function throughCloudFront(request: CloudFrontRequest) {
  const viewed = await handlers.viewerRequest(event('viewer-request', request));
  if (isAnswer(viewed)) return { edgeAnswer: viewed };
  /** What CloudFront keys its cache on, with this cache policy: the path, the query and one header. */
  const cacheKey = `${viewed.uri}?${viewed.querystring} scope=${header(viewed.headers, 'x-entitlement-scope') ?? ''}`;
  const toOrigin = await handlers.originRequest(
    event('origin-request', { ...viewed, origin: { custom: { domainName: '127.0.0.1', path: '' } } }),
  );
  if (isAnswer(toOrigin)) throw new Error('the origin-request trigger never answers');
  const headers = Object.fromEntries(
    Object.entries(toOrigin.headers)
      .filter(([name]) => name !== 'host')
      .map(([name, values]) => [name, values[0]!.value]),
  );
  const query = toOrigin.querystring ? `?${toOrigin.querystring}` : '';
  const response = await fetch(`${harness.subledger.url}${toOrigin.uri}${query}`, { headers });
  const body = (await response.json()) as {
    code?: string;
    body?: string;
    locked?: boolean;
    item?: { locked: boolean };
  };
  return {
    cacheKey,
    sentToOrigin: headers,
    status: response.status,
    body,
    cacheControl: response.headers.get('cache-control'),
  };
}

const tokenFor = async (user: string, entitlements = [anEntitlement()]) =>
  (await harness.subledger.tokens.issue(user, entitlements)).token;

describe('the viewer-request and origin-request triggers', () => {
  it('turn a premium token into its scope and a proof: the origin answers the premium body, shared-cacheable', async () => {
    const alice = await throughCloudFront(
      viewerRequest(PREMIUM_ITEM, { Authorization: `Bearer ${await tokenFor('alice')}` }),
    );
    expect(alice).toMatchObject({ status: 200, body: { locked: false } });
    expect(alice.body?.body).toBeTruthy();
    expect(alice.cacheControl).toMatch(/^public, .*s-maxage=\d+/);
    expect(alice.sentToOrigin?.authorization).toBeUndefined();
    expect(alice.sentToOrigin?.['subledger-edge-proof']).toMatch(/^v1 edge-1 /);

    // Another premium user, another token: the same cache key, so CloudFront's one copy serves both.
    const bob = await throughCloudFront(
      viewerRequest(PREMIUM_ITEM, { Authorization: `Bearer ${await tokenFor('bob')}` }),
    );
    expect(bob.cacheKey).toBe(alice.cacheKey);
  });

  it('key anonymous callers and free users on the one copy, the paywall', async () => {
    const anonymous = await throughCloudFront(viewerRequest(PREMIUM_ITEM));
    const free = await throughCloudFront(
      viewerRequest(PREMIUM_ITEM, { Authorization: `Bearer ${await tokenFor('carol', [])}` }),
    );
    for (const answer of [anonymous, free]) {
      expect(answer).toMatchObject({ status: 403, body: { code: 'entitlement_required', item: { locked: true } } });
      expect(answer.body?.body).toBeUndefined();
    }
    expect(free.cacheKey).toBe(anonymous.cacheKey);
  });

  it('ignore a scope or a proof the client sent', async () => {
    const claimed = await throughCloudFront(
      viewerRequest(PREMIUM_ITEM, {
        'X-Entitlement-Scope': 'premium',
        'Subledger-Edge-Proof': 'v1 edge-1 9999999999 x',
      }),
    );
    expect(claimed).toMatchObject({ status: 403, body: { code: 'entitlement_required' } });
  });

  it('sign the path and query the origin sees', async () => {
    const page = await throughCloudFront(
      viewerRequest('/v1/content', { Authorization: `Bearer ${await tokenFor('dave')}` }, 'kind=workout&limit=2'),
    );
    expect(page.status).toBe(200);
  });

  it('answer an expired token with 401 token_expired, never cached, without asking the origin', async () => {
    shift = -20 * 60_000;
    const old = await tokenFor('erin');
    shift = 0;
    const { edgeAnswer } = await throughCloudFront(viewerRequest(PREMIUM_ITEM, { Authorization: `Bearer ${old}` }));
    expect(edgeAnswer).toMatchObject({ status: '401', statusDescription: 'Unauthorized' });
    expect(header(edgeAnswer!.headers, 'www-authenticate')).toBe(
      'Bearer error="invalid_token", error_description="token expired"',
    );
    expect(header(edgeAnswer!.headers, 'cache-control')).toBe('no-store');
    expect(header(edgeAnswer!.headers, 'content-type')).toBe('application/problem+json');
    expect(JSON.parse(edgeAnswer!.body)).toMatchObject({ status: 401, code: 'token_expired' });
  });

  it('answer a malformed token with 401 token_invalid', async () => {
    const { edgeAnswer } = await throughCloudFront(
      viewerRequest(PREMIUM_ITEM, { Authorization: 'Bearer not.a.token' }),
    );
    expect(edgeAnswer).toMatchObject({ status: '401' });
    expect(JSON.parse(edgeAnswer!.body)).toMatchObject({ code: 'token_invalid', detail: 'malformed token' });
  });

  it('leave other requests alone, less the headers only an edge may set', async () => {
    const likes = viewerRequest('/v1/content/workout-hiit-20/likes', {
      Authorization: 'Bearer app-user-token',
      'X-Entitlement-Scope': 'premium',
    });
    const passed = await handlers.viewerRequest(event('viewer-request', likes));
    expect(isAnswer(passed)).toBe(false);
    expect(header((passed as CloudFrontRequest).headers, 'authorization')).toBe('Bearer app-user-token');
    expect((passed as CloudFrontRequest).headers['x-entitlement-scope']).toBeUndefined();
  });
});

describe('the deployable bundle', () => {
  it('loads with its settings baked in and exports both triggers', async () => {
    const code = await bundleLambdaEdge({ ORIGIN_URL: harness.subledger.url, EDGE_PROOF_KEY: PROOF_KEY });
    const dir = await mkdtemp(path.join(tmpdir(), 'subledger-lambda-edge-'));
    await writeFile(path.join(dir, 'index.mjs'), code);
    const bundle = (await import(pathToFileURL(path.join(dir, 'index.mjs')).href)) as typeof handlers;
    const viewed = await bundle.viewerRequest(
      event('viewer-request', viewerRequest(PREMIUM_ITEM, { Authorization: `Bearer ${await tokenFor('frank')}` })),
    );
    expect(header((viewed as CloudFrontRequest).headers, 'x-entitlement-scope')).toBe('premium');
  });

  it('refuses to build with settings that would not work', async () => {
    await expect(bundleLambdaEdge({ ORIGIN_URL: 'not a url', EDGE_PROOF_KEY: 'short' })).rejects.toThrow(
      /ORIGIN_URL.*EDGE_PROOF_KEY/,
    );
  });
});
