import { createSign, generateKeyPairSync } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Environment, VerificationStatus } from '@apple/app-store-server-library';
import { ChainCachingVerifier } from '../../src/ingest/apple/chain-caching-verifier.ts';
import { transactionPayload } from '../../src/dev/apple/test-notifications.ts';
import { refusal } from '../support/verification.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';

/*
 * The verifier remembers chains Apple's library verified. Everything a JWS can
 * change while keeping a remembered header (algorithm and x5c) must still be
 * refused: its signature, its payload, its app, its environment, its date.
 */
const NOW = Date.now();
const DAY = 86_400_000;
let ca: AppleTestCa;
let verifier: ChainCachingVerifier;

const parts = (jws: string) => jws.split('.') as [string, string, string];
const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

beforeAll(async () => {
  ca = await createAppleTestCa({ name: 'Chain cache test' });
});
beforeEach(async () => {
  verifier = new ChainCachingVerifier([ca.rootDer], false, Environment.SANDBOX, 'com.example.pulse', 1234567890);
  // Warm: the library verifies this chain once, fully.
  await verifier.verifyAndDecodeTransaction(await ca.signer.sign(transactionPayload(NOW)));
});

describe('a verifier that remembers verified chains', () => {
  it('accepts another payload signed with the remembered chain, decoded as the library decodes it', async () => {
    const payload = transactionPayload(NOW, { transactionId: '2000000812345679' });
    expect(await verifier.verifyAndDecodeTransaction(await ca.signer.sign(payload))).toEqual(payload);
  });

  it('refuses a payload with the remembered header but signed by another key', async () => {
    // The forger copies Apple's header (x5c included) and signs with a key of their own.
    const [header] = parts(await ca.signer.sign(transactionPayload(NOW)));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = encode(transactionPayload(NOW, { productId: 'com.example.pulse.premium.yearly' }));
    const signature = createSign('sha256')
      .update(`${header}.${body}`)
      .sign({ key: privateKey, dsaEncoding: 'ieee-p1363' })
      .toString('base64url');
    expect(await refusal(verifier.verifyAndDecodeTransaction(`${header}.${body}.${signature}`))).toBe(
      VerificationStatus.VERIFICATION_FAILURE,
    );
  });

  it('refuses a tampered payload under a genuine signature', async () => {
    const [header, , signature] = parts(await ca.signer.sign(transactionPayload(NOW)));
    const tampered = encode(transactionPayload(NOW, { expiresDate: NOW + 3650 * DAY }));
    expect(await refusal(verifier.verifyAndDecodeTransaction(`${header}.${tampered}.${signature}`))).toBe(
      VerificationStatus.VERIFICATION_FAILURE,
    );
  });

  it('still makes the library’s claim checks: app and environment', async () => {
    const otherApp = await ca.signer.sign(transactionPayload(NOW, { bundleId: 'com.example.other' }));
    expect(await refusal(verifier.verifyAndDecodeTransaction(otherApp))).toBe(
      VerificationStatus.INVALID_APP_IDENTIFIER,
    );
    const production = await ca.signer.sign(transactionPayload(NOW, {}, 'Production'));
    expect(await refusal(verifier.verifyAndDecodeTransaction(production))).toBe(VerificationStatus.INVALID_ENVIRONMENT);
  });

  it('refuses a payload dated outside the chain’s validity, as the library does', async () => {
    // The test leaf is valid from yesterday: a payload signed a week ago predates it.
    const old = await ca.signer.sign(transactionPayload(NOW - 7 * DAY));
    expect(await refusal(verifier.verifyAndDecodeTransaction(old))).toBe(VerificationStatus.INVALID_CERTIFICATE);
  });

  it('refuses a payload that is not the shape the library expects', async () => {
    const [header, , signature] = parts(await ca.signer.sign(transactionPayload(NOW)));
    expect(await refusal(verifier.verifyAndDecodeTransaction(`${header}.bm90LWpzb24.${signature}`))).toBe(
      VerificationStatus.FAILURE,
    );
  });

  it('refuses a signature that is not the 64 bytes of an ES256 one, and a JWS with parts to spare', async () => {
    const signed = await ca.signer.sign(transactionPayload(NOW));
    const [header, body, signature] = parts(signed);
    const short = Buffer.from(signature, 'base64url').subarray(0, 48).toString('base64url');
    expect(await refusal(verifier.verifyAndDecodeTransaction(`${header}.${body}.${short}`))).toBe(
      VerificationStatus.VERIFICATION_FAILURE,
    );
    // What the library makes of a fourth part (it does not take it), not a pass for the first three.
    expect(await refusal(verifier.verifyAndDecodeTransaction(`${signed}.${signature}`))).not.toBe(
      VerificationStatus.OK,
    );
  });
});
