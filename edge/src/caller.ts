import { decodeJwt, errors, jwtVerify } from 'jose';
import { canonicalScope } from '../../src/auth/edge-proof.ts';
import { KeySetUnavailable, type KeySet } from './key-set.ts';
import type { EdgeSettings } from './settings.ts';

/** Who is asking, as far as the edge can tell without the origin. */
export type Caller =
  | { readonly kind: 'anonymous'; readonly scope: readonly [] }
  | {
      readonly kind: 'token';
      readonly scope: readonly string[];
      readonly subject: string;
      /** The token itself: only the per-token cache key (a design measured, not used) reads it. */
      readonly token: string;
    };

/** Why a caller is refused; `description` goes into the WWW-Authenticate challenge. */
export type CallerRefusal =
  | { readonly code: 'token_expired'; readonly status: 401; readonly description: 'token expired' }
  | { readonly code: 'token_invalid'; readonly status: 401; readonly description: string }
  | { readonly code: 'signing_keys_unavailable'; readonly status: 503; readonly description: string };

const invalid = (description: string): CallerRefusal => ({ code: 'token_invalid', status: 401, description });
const EXPIRED: CallerRefusal = { code: 'token_expired', status: 401, description: 'token expired' };

/**
 * The caller of a request with this Authorization header: anonymous without one, the
 * scope of a scoped token that verifies offline, or a refusal. Nothing here trusts the
 * token before its signature: an expired one is refused before the keys are asked for
 * (refusing is safe whoever signed it), so the expired branch works while the origin is
 * down and never depends on a fetch.
 */
export async function callerOf(
  authorization: string | null | undefined,
  keys: KeySet,
  settings: EdgeSettings,
  now: number,
): Promise<Caller | CallerRefusal> {
  if (authorization === null || authorization === undefined) return { kind: 'anonymous', scope: [] };
  const token = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization)?.[1];
  if (!token) return invalid('send the token as Authorization: Bearer <token>');

  let expiresAt: unknown;
  try {
    expiresAt = decodeJwt(token).exp;
  } catch {
    return invalid('malformed token');
  }
  if (typeof expiresAt !== 'number') return invalid('the token has no expiry');
  if (expiresAt + settings.clockSkewSeconds <= Math.floor(now / 1000)) return EXPIRED;

  try {
    const { payload } = await jwtVerify(token, keys.getKey, {
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms: ['ES256'],
      typ: 'at+jwt',
      clockTolerance: settings.clockSkewSeconds,
      currentDate: new Date(now),
      requiredClaims: ['sub', 'exp', 'iat', 'aud'],
    });
    if (typeof payload.scope !== 'string') return invalid('the token has no scope');
    return { kind: 'token', scope: canonicalScope(payload.scope.split(' ')), subject: payload.sub!, token };
  } catch (error) {
    return refusalFor(error);
  }
}

function refusalFor(error: unknown): CallerRefusal {
  if (error instanceof errors.JWTExpired) return EXPIRED;
  if (error instanceof errors.JWKSNoMatchingKey) return invalid('unknown signing key');
  if (error instanceof errors.JWSSignatureVerificationFailed) return invalid('bad signature');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return invalid('token is for another audience');
    if (error.claim === 'iss') return invalid('token from another issuer');
    return invalid(`token ${error.claim} claim is not valid now`);
  }
  if (error instanceof KeySetUnavailable) {
    return { code: 'signing_keys_unavailable', status: 503, description: 'the signing keys cannot be fetched' };
  }
  return invalid('malformed token');
}

export const isRefusal = (answer: Caller | CallerRefusal): answer is CallerRefusal => 'code' in answer;
