import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { startEdgeWorker, type EdgeWorker } from '../support/edge-worker.ts';
import { anEntitlement } from '../support/entitlements.ts';

/*
 * Issue 13: no edge ever meets a token signed by a key it could not have fetched. The
 * service publishes each signing key two JWKS cache lifetimes before it signs with it;
 * an edge that keeps the JWKS for its max-age and never refreshes early (a cooldown of
 * an hour: an unknown key id gets no second fetch) must verify every token across key
 * changes. Here in seconds instead of days: keys change every 3 s, the JWKS lives 1 s.
 */
const PROOF_KEY = 'edge-1:' + 's'.repeat(40);
const ROTATION_MS = 3_000;

let harness: AppleHarness;
let edge: EdgeWorker;
beforeAll(async () => {
  harness = await startAppleHarness(
    { EDGE_PROOF_KEYS: PROOF_KEY, EDGE_DIRECT_TOKENS: 'off', TOKEN_JWKS_CACHE_SECONDS: '1' },
    { configure: (config) => ({ ...config, tokens: { ...config.tokens, keyRotationMs: ROTATION_MS } }) },
  );
  edge = await startEdgeWorker({
    ORIGIN_URL: harness.subledger.url,
    EDGE_PROOF_KEY: PROOF_KEY,
    JWKS_REFRESH_COOLDOWN_SECONDS: '3600',
    CLOCK_SKEW_SECONDS: '0',
  });
});
afterAll(async () => {
  await edge?.dispose();
  await harness?.stop();
});

it('verifies every token across three key changes, with no early JWKS refresh', async () => {
  const kids = new Set<string>();
  const refused: string[] = [];
  const until = Date.now() + 3.5 * ROTATION_MS;
  while (Date.now() < until) {
    const { token } = await harness.subledger.tokens.issue('alice', [anEntitlement()]);
    kids.add(decodeProtectedHeader(token).kid!);
    const answer = await edge.get('/v1/content/workout-hiit-20', { authorization: `Bearer ${token}` });
    if (answer.status !== 200) refused.push(`${answer.status} ${answer.headers.get('www-authenticate')}`);
    await answer.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(kids.size).toBeGreaterThanOrEqual(3);
  expect(refused).toEqual([]);
});
