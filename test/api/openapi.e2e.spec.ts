import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';

/* The OpenAPI document is the API contract: every route is in it, with its schemas. */
let harness: AppleHarness;
beforeAll(async () => {
  harness = await startAppleHarness();
});
afterAll(() => harness?.stop());

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; security?: unknown }>>;
}

describe('GET /openapi.json', () => {
  it('lists every route with its responses', async () => {
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as OpenApiDocument;
    expect(document.openapi).toMatch(/^3\./);
    const routes = harness.subledger.api.registeredRoutes.filter((r) => !r.hidden && r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThanOrEqual(8);
    const missing = routes.filter((r) => {
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      return !document.paths[path]?.[r.method.toLowerCase()]?.responses;
    });
    expect(missing).toEqual([]);
  });

  it('declares the problems any route can answer: 500 everywhere, 429 where rate-limited, 413 and 415 with a body', async () => {
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as OpenApiDocument;
    const statuses = (path: string, method: string) => Object.keys(document.paths[path]![method]!.responses!);
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) expect(statuses(path, method)).toContain('500');
    }
    expect(statuses('/v1/customers/{appUserId}', 'get')).toEqual(expect.arrayContaining(['400', '429']));
    expect(statuses('/v1/customers/{appUserId}', 'get')).not.toContain('413');
    expect(statuses('/v1/customers/{appUserId}/tokens', 'post')).toEqual(expect.arrayContaining(['413', '415']));
    expect(statuses('/v1/webhooks/apple', 'post')).not.toContain('429'); // stores are never turned away
  });

  it('says which routes need a credential', async () => {
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as OpenApiDocument;
    expect(document.paths['/v1/customers/{appUserId}']!.get!.security).toEqual([{ bearer: [] }]);
    expect(document.paths['/v1/webhooks/apple']!.post!.security).toBeUndefined();
  });

  it('serves a browsable version at /docs', async () => {
    const response = await fetch(`${harness.subledger.url}/docs`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('swagger');
  });
});
