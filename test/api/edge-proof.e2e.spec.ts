import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EDGE_PROOF_HEADER,
  EDGE_SCOPE_HEADER,
  MAX_PROOF_LIFETIME_SECONDS,
  signEdgeProof,
  type EdgeProofKey,
} from '../../src/auth/edge-proof.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { anEntitlement } from '../support/entitlements.ts';

/*
 * Issue 13, the origin's side of the edge: an edge that verified a scoped token asks for
 * content with the scope and a proof (an HMAC with a secret both share), not the token;
 * the origin answers for that scope, shared-cacheable, and refuses a proof that does not
 * hold. Two keys are live, as during a rotation.
 */
const OLD: EdgeProofKey = { id: 'k1', secret: 'a'.repeat(40) };
const NEW: EdgeProofKey = { id: 'k2', secret: 'b'.repeat(40) };
const PREMIUM_ITEM = '/v1/content/workout-hiit-20';

let harness: AppleHarness;
let edgeOnly: AppleHarness;
beforeAll(async () => {
  const keys = `${OLD.id}:${OLD.secret},${NEW.id}:${NEW.secret}`;
  harness = await startAppleHarness({ EDGE_PROOF_KEYS: keys });
  edgeOnly = await startAppleHarness({ EDGE_PROOF_KEYS: keys, EDGE_DIRECT_TOKENS: 'off' });
});
afterAll(async () => {
  await harness?.stop();
  await edgeOnly?.stop();
});

const inSeconds = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;

async function ask(
  target: AppleHarness,
  url: string,
  headers: Record<string, string>,
): Promise<{
  status: number;
  code?: string;
  body: string | undefined;
  cacheControl?: string;
  scope?: string;
  vary?: string;
}> {
  const response = await target.subledger.api.inject({ method: 'GET', url, headers });
  const json = response.json() as { code?: string; body?: string };
  return {
    status: response.statusCode,
    ...(json.code && { code: json.code }),
    body: json.body, // the item's body: never in a refusal
    cacheControl: response.headers['cache-control'] as string,
    scope: response.headers[EDGE_SCOPE_HEADER] as string,
    vary: response.headers.vary as string,
  };
}

/** What an edge sends: the scope it verified, and its proof over this request. */
async function proven(scope: string[], url = PREMIUM_ITEM, key = NEW, expiresAt = inSeconds(30)) {
  return {
    [EDGE_SCOPE_HEADER]: scope.join(' '),
    [EDGE_PROOF_HEADER]: await signEdgeProof(key, { method: 'GET', url, scope }, expiresAt),
  };
}

describe('an edge-proven request', () => {
  it('gets the premium body for a premium scope, shared-cacheable, with either live key', async () => {
    for (const key of [OLD, NEW]) {
      const answer = await ask(harness, PREMIUM_ITEM, await proven(['premium'], PREMIUM_ITEM, key));
      expect(answer).toMatchObject({ status: 200, scope: 'premium', cacheControl: 'public, max-age=0, s-maxage=60' });
      expect(answer.body).toBeTruthy();
      // A plain cache between edge and origin keys on the proof, new each time: it never reuses this.
      expect(answer.vary).toContain(EDGE_PROOF_HEADER);
    }
  });

  it('gets the paywall for an empty scope, shared-cacheable too', async () => {
    expect(await ask(harness, PREMIUM_ITEM, await proven([]))).toMatchObject({
      status: 403,
      code: 'entitlement_required',
      scope: '',
      cacheControl: 'public, max-age=0, s-maxage=60',
    });
  });
});

describe('refuses, never with a body, never cacheable', () => {
  const refused = (code: string) => ({ status: 401, code, cacheControl: 'no-store', body: undefined });

  it('a proof for another scope, path or key, or widened by the client', async () => {
    const forFree = await proven([]);
    expect(await ask(harness, PREMIUM_ITEM, { ...forFree, [EDGE_SCOPE_HEADER]: 'premium' })).toMatchObject(
      refused('edge_proof_invalid'),
    );
    const elsewhere = await proven(['premium'], '/v1/content/workout-mobility-10');
    expect(await ask(harness, PREMIUM_ITEM, elsewhere)).toMatchObject(refused('edge_proof_invalid'));
    const stranger = await proven(['premium'], PREMIUM_ITEM, { id: 'k1', secret: 'c'.repeat(40) });
    expect(await ask(harness, PREMIUM_ITEM, stranger)).toMatchObject(refused('edge_proof_invalid'));
    const unknownKey = await proven(['premium'], PREMIUM_ITEM, { id: 'k9', secret: NEW.secret });
    expect(await ask(harness, PREMIUM_ITEM, unknownKey)).toMatchObject(refused('edge_proof_invalid'));
    expect(await ask(harness, PREMIUM_ITEM, { [EDGE_PROOF_HEADER]: 'junk' })).toMatchObject(
      refused('edge_proof_invalid'),
    );
  });

  it('an expired proof, and one that claims to live too long', async () => {
    const expired = await proven(['premium'], PREMIUM_ITEM, NEW, inSeconds(-1));
    expect(await ask(harness, PREMIUM_ITEM, expired)).toMatchObject(refused('edge_proof_expired'));
    const tooLong = await proven(['premium'], PREMIUM_ITEM, NEW, inSeconds(MAX_PROOF_LIFETIME_SECONDS + 60));
    expect(await ask(harness, PREMIUM_ITEM, tooLong)).toMatchObject(refused('edge_proof_invalid'));
  });

  it('a scope header without a proof: ignored, the answer is the anonymous one', async () => {
    expect(await ask(harness, PREMIUM_ITEM, { [EDGE_SCOPE_HEADER]: 'premium' })).toMatchObject({
      status: 403,
      code: 'entitlement_required',
      scope: '',
    });
  });

  it('a token sent directly, where only edges may ask (EDGE_DIRECT_TOKENS=off); anonymous still served', async () => {
    const { token } = await edgeOnly.subledger.tokens.issue('alice', [anEntitlement()]);
    expect(await ask(edgeOnly, PREMIUM_ITEM, { authorization: `Bearer ${token}` })).toMatchObject(
      refused('edge_proof_required'),
    );
    expect(await ask(harness, PREMIUM_ITEM, { authorization: `Bearer ${token}` })).toMatchObject({
      status: 401, // another service's key: a direct token is checked as ever
    });
    expect(await ask(edgeOnly, PREMIUM_ITEM, {})).toMatchObject({ status: 403, code: 'entitlement_required' });
    expect(await ask(edgeOnly, PREMIUM_ITEM, await proven(['premium']))).toMatchObject({ status: 200 });
  });
});
