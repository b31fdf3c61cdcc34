import { generateKeyPair, SignJWT, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toTimestamp } from '../../src/domain/time.ts';
import { ScopedTokens, TokenRejected } from '../../src/tokens/scoped-tokens.ts';
import { JWKS_CACHE_SECONDS, PUBLISH_AHEAD_MS, TokenKeyRing } from '../../src/tokens/token-key-ring.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { anEntitlement } from '../support/entitlements.ts';

/*
 * Scoped tokens over a real database of signing keys: every branch of verification
 * (the original platform's first incident was an expired-token edge case).
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = Date.parse('2026-11-27T12:00:00.000Z');
let db: TestDatabase;
let clock: number;
const testClock = { now: () => new Date(clock) };

function instance(rotationMs = 7 * 24 * 60 * MINUTE, audience = 'subledger-content') {
  const keyRing = new TokenKeyRing(db.pool, { rotationMs, maxTokenLifetimeMs: 15 * MINUTE, clock: testClock });
  const options = { issuer: 'subledger-test', audience, maxLifetimeMs: 15 * MINUTE, clock: testClock };
  return { keyRing, tokens: new ScopedTokens(keyRing, options) };
}
const premium = (expiresAt: number | null) =>
  anEntitlement({
    expiresAt: expiresAt === null ? null : toTimestamp(expiresAt),
    purchasedAt: toTimestamp(T0 - 86_400_000),
  });
async function rejection(verification: Promise<unknown>): Promise<string> {
  try {
    await verification;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenRejected);
    return (error as TokenRejected).code;
  }
  throw new Error('the token was accepted');
}
const header = (token: string) => token.split('.')[0]!;
const payload = (token: string) => token.split('.')[1]!;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());
beforeEach(async () => {
  clock = T0;
  await db.pool.query('TRUNCATE token_signing_keys');
});

describe('scoped tokens', () => {
  it('issues a token that verifies, with the active entitlements as scope and the JWKS key id', async () => {
    const { tokens, keyRing } = instance();
    const issued = await tokens.issue('alice', [premium(T0 + 5 * MINUTE)]);
    expect(issued).toMatchObject({ scope: ['premium'], expiresAt: '2026-11-27T12:05:00.000Z' });
    expect(await tokens.verify(issued.token)).toEqual({
      appUserId: 'alice',
      scope: ['premium'],
      expiresAt: new Date(T0 + 5 * MINUTE),
    });
    const { kid } = decodeProtectedHeader(issued.token);
    expect((await keyRing.publicKeys()).map((k) => k.kid)).toEqual([kid]);
  });

  it('refuses an expired token, whether or not it was verified before', async () => {
    const { tokens } = instance();
    const seen = (await tokens.issue('alice', [premium(null)])).token;
    const unseen = (await tokens.issue('bob', [premium(null)])).token;
    await tokens.verify(seen); // remembered now
    clock = T0 + 15 * MINUTE; // the second it expires
    expect(await rejection(tokens.verify(seen))).toBe('token_expired');
    expect(await rejection(tokens.verify(unseen))).toBe('token_expired');
  });

  it('refuses forged, altered and foreign tokens as invalid', async () => {
    const { tokens } = instance();
    const genuine = (await tokens.issue('alice', [])).token;
    const { kid } = decodeProtectedHeader(genuine);
    const { privateKey } = await generateKeyPair('ES256');
    const forge = (issuer: string) =>
      new SignJWT({ scope: 'premium coaching' })
        .setProtectedHeader({ alg: 'ES256', kid: kid!, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject('alice')
        .setIssuedAt(T0 / 1000)
        .setExpirationTime(T0 / 1000 + 600)
        .sign(privateKey);
    expect(await rejection(tokens.verify(await forge('subledger-test')))).toBe('token_invalid');
    const widened = Buffer.from(JSON.stringify({ scope: 'premium', sub: 'alice', exp: T0 / 1000 + 600 })).toString(
      'base64url',
    );
    expect(await rejection(tokens.verify(`${header(genuine)}.${widened}.${genuine.split('.')[2]}`))).toBe(
      'token_invalid',
    );
    expect(await rejection(tokens.verify(`${header(genuine)}.${payload(genuine)}.`))).toBe('token_invalid');
    expect(await rejection(tokens.verify('not a token'))).toBe('token_invalid');
  });

  it('refuses a token for another audience, signed with the same key, as invalid', async () => {
    const ours = instance();
    const elsewhere = instance(undefined, 'another-api');
    const theirs = (await elsewhere.tokens.issue('alice', [premium(null)])).token;
    expect(decodeProtectedHeader(theirs).kid).toBe(
      decodeProtectedHeader((await ours.tokens.issue('bob', [])).token).kid,
    );
    expect(await rejection(ours.tokens.verify(theirs))).toBe('token_invalid');
    expect(await elsewhere.tokens.verify(theirs)).toMatchObject({ appUserId: 'alice' });
  });

  it('keeps tokens of the previous key valid across a rotation until they expire', async () => {
    const { tokens, keyRing } = instance(HOUR);
    await tokens.issue('alice', []); // the first key: signs until T0 + 60 min
    clock = T0 + 59 * MINUTE;
    const before = (await tokens.issue('alice', [premium(null)])).token; // expires at T0 + 74 min
    clock = T0 + 62 * MINUTE;
    const after = (await tokens.issue('alice', [premium(null)])).token;
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    expect(await keyRing.publicKeys()).toHaveLength(2);
    expect(await tokens.verify(before)).toMatchObject({ appUserId: 'alice' });
    // The first key signed until T0 + 60 min; its last token expired at T0 + 75 min.
    clock = T0 + 76 * MINUTE;
    expect((await keyRing.publicKeys()).map((k) => k.kid)).toEqual([decodeProtectedHeader(after).kid]);
  });

  it('publishes a key before it signs anything: the first when asked to prepare, before any token', async () => {
    const { tokens, keyRing } = instance();
    expect(await keyRing.publicKeys()).toEqual([]);
    await keyRing.signingKey(); // what the service does when it starts
    const [published] = await keyRing.publicKeys();
    const { token } = await tokens.issue('alice', []);
    expect(decodeProtectedHeader(token).kid).toBe(published!.kid);
  });

  it('publishes the next key two JWKS cache lifetimes before it takes over', async () => {
    const { tokens, keyRing } = instance(HOUR);
    const first = decodeProtectedHeader((await tokens.issue('alice', [])).token).kid;
    clock = T0 + HOUR - PUBLISH_AHEAD_MS - MINUTE;
    await keyRing.signingKey(); // the service's minutely preparation
    expect((await keyRing.publicKeys()).map((k) => k.kid)).toEqual([first]);
    clock = T0 + HOUR - PUBLISH_AHEAD_MS;
    await keyRing.signingKey();
    const published = (await keyRing.publicKeys()).map((k) => k.kid);
    expect(published).toHaveLength(2);
    // Still signed by the first key until its turn ends, then by the key published meanwhile.
    expect(decodeProtectedHeader((await tokens.issue('alice', [])).token).kid).toBe(first);
    clock = T0 + HOUR;
    const next = decodeProtectedHeader((await tokens.issue('alice', [])).token).kid;
    expect(next).toBe(published[1]);
    expect(PUBLISH_AHEAD_MS).toBeGreaterThanOrEqual(2 * JWKS_CACHE_SECONDS * 1000);
  });

  it('verifies on one instance what another issued, with the key they share', async () => {
    const first = instance();
    const second = instance();
    await second.tokens.verify((await second.tokens.issue('carol', [])).token); // reads the JWKS
    await db.pool.query('TRUNCATE token_signing_keys'); // a fresh key for the first instance
    const token = (await first.tokens.issue('carol', [premium(null)])).token;
    expect(await second.tokens.verify(token)).toMatchObject({ appUserId: 'carol', scope: ['premium'] });
  });
});
