import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { signNotification } from '../../src/dev/apple/test-notifications.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { referencedHeaders, restoreHeaders, shareHeaders } from '../../src/eventstore/shared-jws-headers.ts';

let ca: AppleTestCa;
beforeAll(async () => {
  ca = await createAppleTestCa();
});

const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const jws = (header: object | string, payload: string, signature = 'c2ln') =>
  `${typeof header === 'string' ? header : b64url(JSON.stringify(header))}.${b64url(payload)}.${signature}`;

describe('a JWS archived with its headers shared', () => {
  it('keeps an App Store notification in an eighth of its size, and restores it byte for byte', async () => {
    const notification = await signNotification(ca.signer, { type: 'DID_RENEW', signedDate: Date.UTC(2026, 0, 1) });
    const form = shareHeaders(notification)!;

    expect(restoreHeaders(form.stored, form.headers)).toBe(notification);
    // The notification's header and those of the transaction and renewal info inside it: one chain, kept once.
    expect(form.headers.size).toBe(1);
    expect(referencedHeaders(form.stored)).toHaveLength(3);
    expect(form.stored.length).toBeLessThan(notification.length / 5);
    expect(form.stored).not.toContain(notification.split('.')[0]);
  });

  it('leaves dotted strings that are no JWS alone', () => {
    const form = shareHeaders(jws({ alg: 'ES256' }, '{"productId":"com.example.pulse","note":"eyJh.b.c"}'))!;
    expect(referencedHeaders(form.stored)).toHaveLength(1);
    expect(form.stored).toContain('"productId":"com.example.pulse","note":"eyJh.b.c"');
  });

  it('restores every JWS it takes exactly, and takes every JWS with a canonical payload', () => {
    const header = fc.oneof(
      fc.record({ alg: fc.constant('ES256'), x5c: fc.array(fc.base64String(), { maxLength: 3 }) }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(b64url),
    );
    const nested = fc.tuple(header, fc.string({ maxLength: 40 })).map(([h, p]) => jws(h, p));
    const payload = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(nested, fc.string({ unit: 'grapheme' }), fc.integer())),
      fc.array(nested),
    );
    // Dotted strings that are not JWSs (a product id) stay as they are, and still come back.
    const dotted = fc.array(fc.stringMatching(/^[a-z]{1,8}$/), { minLength: 3, maxLength: 3 }).map((p) => p.join('.'));
    fc.assert(
      fc.property(header, fc.oneof(payload, fc.array(dotted)), fc.base64String(), (h, p, signature) => {
        const original = jws(
          h,
          JSON.stringify(p),
          signature.replaceAll('=', '').replaceAll('+', '-').replaceAll('/', '_'),
        );
        const form = shareHeaders(original);
        expect(form).toBeDefined();
        expect(restoreHeaders(form!.stored, form!.headers)).toBe(original);
      }),
      { numRuns: 300 },
    );
  });

  it('stores verbatim what would not come back the same, or is no JWS', () => {
    const header = b64url('{"alg":"ES256"}');
    // The payload's last character carries bits base64url decoding drops: re-encoded, it differs.
    const nonCanonical = `${header}.${b64url('{"a":1}').slice(0, -1)}B.c2ln`;
    expect(Buffer.from(nonCanonical.split('.')[1]!, 'base64url').toString('base64url')).not.toBe(
      nonCanonical.split('.')[1],
    );
    expect(shareHeaders(nonCanonical)).toBeUndefined();
    // Bytes that are not UTF-8 do not survive decoding to text.
    expect(shareHeaders(`${header}.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c2ln`)).toBeUndefined();
    // The reference marker itself, already in the payload.
    expect(shareHeaders(jws({ alg: 'ES256' }, '{"a":"\u0001"}'))).toBeUndefined();
    expect(shareHeaders('{"signedPayload":"a.b.c"}')).toBeUndefined();
    expect(shareHeaders('{"signedPayload":"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}')).toBeUndefined();
    expect(shareHeaders('a.b.c.d')).toBeUndefined();
  });

  it('refuses to restore a form whose header is missing, rather than give back something else', () => {
    const form = shareHeaders(jws({ alg: 'ES256' }, '{"a":1}'))!;
    expect(() => restoreHeaders(form.stored, new Map())).toThrow(/no JWS header/);
  });
});
