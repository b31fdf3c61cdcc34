import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/*
 * What an adversarial run against a running instance found: each answer here was a 500,
 * a plain-text or codeless answer, a held connection, or another caller's failure.
 * Every refusal must be a problem document with a code, and change nothing.
 */
let harness: AppleHarness;
let admin: string;
beforeAll(async () => {
  harness = await startAppleHarness({
    RATE_LIMIT_PER_MINUTE: '0',
    REQUEST_TIMEOUT_SECONDS: '1',
    OPERATOR_ROUTES: 'protected',
  });
  ({ secret: admin } = await new ApiKeys(harness.db.pool).create('support', 'admin'));
});
afterAll(() => harness?.stop());

async function send(method: string, path: string, init: { body?: string; type?: string; key?: string } = {}) {
  const response = await fetch(`${harness.subledger.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${init.key ?? admin}`,
      ...(init.type && { 'content-type': init.type }),
    },
    ...(init.body !== undefined && { body: init.body }),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text, headers: response.headers };
}
const codeOf = (text: string) => (JSON.parse(text) as { code?: string }).code;

describe('text PostgreSQL cannot store', () => {
  const nulPaths: [string, string][] = [
    ['GET', '/v1/content/a%00b'],
    ['GET', '/v1/content?kind=a%00b'],
    ['GET', '/v1/clients/a%00b/config'],
    ['GET', '/v1/customers/a%00b'],
    ['POST', '/v1/customers/a%00b/tokens'],
    ['GET', '/v1/admin/customers/a%00b/history'],
    ['GET', '/v1/admin/customers/a%00b/entitlements'],
    ['GET', '/v1/admin/customers/a%00b/purchases'],
    ['GET', '/v1/admin/customers/a%00b/webhook-deliveries'],
    ['GET', '/v1/admin/documents/sha256:a%00b'],
    ['POST', '/v1/admin/customers/a%00b/replay?dryRun=true'],
    ['POST', '/v1/admin/customers/a%00b/reconcile'],
    ['DELETE', '/v1/admin/content/a%00b'],
    ['GET', '/v1/admin/clients/a%00b/config'],
    ['POST', '/v1/admin/dead-letters/a%00b/retry'],
    ['DELETE', '/v1/admin/customers/alice/grants/a%00b?reason=x'],
  ];
  it.each(nulPaths)('answers 400 malformed_request to a NUL in %s %s', async (method, path) => {
    const answer = await send(method, path);
    expect(answer.status, answer.text).toBe(400);
    expect(answer.type).toContain('application/problem+json');
    expect(codeOf(answer.text)).toBe('malformed_request');
  });

  it('never fails other callers read at the same moment as a bad id', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `reader-${i}`);
    const answers = await Promise.all([
      send('GET', '/v1/customers/evil%00'),
      ...ids.map((id) => send('GET', `/v1/customers/${id}`)),
    ]);
    expect(answers[0]!.status).toBe(400);
    expect(answers.slice(1).map((a) => a.status)).toEqual(ids.map(() => 200));
  });

  it.each([
    ['a lone surrogate in a grant’s reason', 'grants', { productId: 'premium_monthly', reason: 'promo \ud800' }],
    ['a NUL in a grant’s reason', 'grants', { productId: 'premium_monthly', reason: 'promo \u0000' }],
    ['a NUL in a transfer’s target', 'transfer', { to: 'bob\u0000', reason: 'merge' }],
    ['a lone surrogate in a transfer’s target', 'transfer', { to: 'bob\udfff', reason: 'merge' }],
  ])('answers 422 unstorable_text to %s, recording nothing', async (_, action, body) => {
    const before = await harness.counts();
    const answer = await send('POST', `/v1/admin/customers/alice/${action}`, {
      body: JSON.stringify(body),
      type: 'application/json',
    });
    expect(answer.status, answer.text).toBe(422);
    expect(codeOf(answer.text)).toBe('unstorable_text');
    expect(await harness.counts()).toEqual(before);
  });
});

describe('URLs the router or Node refuse', () => {
  it('answers a URL that is not UTF-8 with a problem document', async () => {
    const answer = await send('GET', '/v1/content/%FF%FE');
    expect(answer.status).toBe(400);
    expect(answer.type).toContain('application/problem+json');
    expect(codeOf(answer.text)).toBe('malformed_url');
  });

  it('answers a path segment over 1,024 characters with a problem document', async () => {
    const answer = await send('GET', `/v1/content/${'a'.repeat(1500)}`);
    expect(answer.type).toContain('application/problem+json');
    expect([answer.status, codeOf(answer.text)]).toEqual([400, 'malformed_request']);
  });

  it('answers a 20 KB URL with a problem document (431 headers_too_large)', async () => {
    const answer = await send('GET', `/v1/content?kind=${'a'.repeat(20_000)}`);
    expect(answer.status).toBe(431);
    expect(answer.type).toContain('application/problem+json');
    expect(codeOf(answer.text)).toBe('headers_too_large');
  });
});

describe('bodies', () => {
  it.each([
    ['a grant sent as text/plain', 'POST', '/v1/admin/customers/alice/grants', 'text/plain'],
    ['a reconcile sent as text/plain', 'POST', '/v1/admin/customers/alice/reconcile', 'text/plain'],
    ['a grant in latin1', 'POST', '/v1/admin/customers/alice/grants', 'application/json; charset=latin1'],
    ['a content item as a form', 'PUT', '/v1/admin/content/x', 'application/x-www-form-urlencoded'],
  ])('answers 415 unsupported_media_type to %s', async (_, method, path, type) => {
    const before = await harness.counts();
    const answer = await send(method, path, { body: '{"productId":"premium_monthly","reason":"r"}', type });
    expect(answer.status, answer.text).toBe(415);
    expect(codeOf(answer.text)).toBe('unsupported_media_type');
    expect(await harness.counts()).toEqual(before);
  });

  it('takes JSON with charset=utf-8', async () => {
    const answer = await send('POST', '/v1/admin/customers/alice/replay?dryRun=true', {
      body: '{"reason":"check"}',
      type: 'application/json; charset=UTF-8',
    });
    expect(answer.status, answer.text).toBe(200);
  });

  it('does not wait five minutes for a body that never comes: 408 after the request timeout', async () => {
    const { port } = new URL(harness.subledger.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    socket.write(
      'POST /v1/webhooks/apple HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
        'content-length: 50000\r\n\r\n{"sign',
    );
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve));
    // Within a few request timeouts (1 s here; Node checks every few seconds), not 300 s.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(received).toContain('"code":"request_timeout"');
  });
});

describe('operator routes', () => {
  it('keeps /metrics for admin API keys', async () => {
    const anonymous = await fetch(`${harness.subledger.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
    const { secret: app } = await new ApiKeys(harness.db.pool).create('an app server', 'app-server');
    expect((await send('GET', '/metrics', { key: app })).status).toBe(403);
    const operator = await send('GET', '/metrics');
    expect(operator.status).toBe(200);
    expect(operator.text).toContain('subledger_');
  });

  it('shows /ready’s details to admin API keys only', async () => {
    const anonymous = await (await fetch(`${harness.subledger.url}/ready`)).json();
    expect(anonymous).toEqual({ status: 'ready' });
    const operator = JSON.parse((await send('GET', '/ready')).text) as Record<string, unknown>;
    expect(operator).toMatchObject({ status: 'ready', database: { reachable: true } });
  });
});
