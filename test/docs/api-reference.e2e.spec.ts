import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiMarkdown, type OpenApiDocument } from '../../src/api/openapi-markdown.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { REPOSITORY_ROOT } from '../support/doc-blocks.ts';

/*
 * docs/api.md is the OpenAPI document, written as Markdown: it must say what the running
 * service's document says. `npm run docs:api` writes it again (UPDATE_DOCS=1).
 */
const REFERENCE = path.join(REPOSITORY_ROOT, 'docs/api.md');
let harness: AppleHarness;
beforeAll(async () => {
  // As served by default (operator routes protected), with both stores' routes. The Play
  // Developer API's key is read only when Google is first asked, which this test never does.
  harness = await startAppleHarness({
    GOOGLE_SERVICE_ACCOUNT_KEY_FILE: 'never-read.json',
    OPERATOR_ROUTES: 'protected',
    GOOGLE_PUSH_AUDIENCE: 'https://subledger.example.com/v1/webhooks/google',
    GOOGLE_PUSH_SERVICE_ACCOUNT: 'play-push@example.iam.gserviceaccount.com',
  });
});
afterAll(() => harness?.stop());

describe('the API reference in docs/', () => {
  it('is the service’s OpenAPI document, every route of it', async () => {
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as OpenApiDocument;
    const written = openApiMarkdown(document);
    if (process.env.UPDATE_DOCS === '1') await writeFile(REFERENCE, written);
    for (const [route, byMethod] of Object.entries(document.paths)) {
      for (const method of Object.keys(byMethod)) expect(written).toContain(`### \`${method.toUpperCase()} ${route}\``);
    }
    const committed = await readFile(REFERENCE, 'utf8').catch(() => '');
    expect(committed, 'docs/api.md is out of date: run npm run docs:api').toBe(written);
  });
});
