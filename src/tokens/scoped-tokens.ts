import type { Clock } from '../domain/clock.ts';
import { errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import type { Entitlement } from '../domain/entitlements.ts';
import { scopedTokenGrant, type ScopedTokenGrant } from '../domain/scoped-token.ts';
import { millis, toTimestamp } from '../domain/time.ts';
import { refreshingKeySet } from './refreshing-key-set.ts';
import type { TokenKeyRing } from './token-key-ring.ts';
import { Refusal } from '../domain/refusal.ts';

export type TokenRejectionCode = 'token_expired' | 'token_invalid';

export class TokenRejected extends Refusal<TokenRejectionCode> {
  constructor(code: TokenRejectionCode, message: string) {
    super('unauthenticated', code, message);
  }
}

export interface VerifiedScopedToken {
  readonly appUserId: string;
  readonly scope: readonly string[];
  readonly expiresAt: Date;
}

export interface ScopedTokenOptions {
  readonly issuer: string;
  /** Who the tokens are for (`aud`): the content API and the edges in front of it check it. */
  readonly audience: string;
  readonly maxLifetimeMs: number;
  readonly clock: Clock;
  /** Verified tokens remembered until they expire; the oldest go first beyond this. */
  readonly cacheSize?: number;
}

/**
 * Short-lived ES256 tokens whose `scope` lists a customer's active entitlements, for
 * the content API, CDN edges and other services to check offline against the JWKS.
 * Verification results are remembered for the token's lifetime, so a hot path pays
 * for a signature once per token, not once per request.
 */
export class ScopedTokens {
  private readonly keys: JWTVerifyGetKey;
  private readonly verified = new Map<string, VerifiedScopedToken>();

  private readonly keyRing: TokenKeyRing;
  private readonly options: ScopedTokenOptions;

  constructor(keyRing: TokenKeyRing, options: ScopedTokenOptions) {
    this.keyRing = keyRing;
    this.options = options;
    this.keys = refreshingKeySet(() => keyRing.publicKeys());
  }

  private now(): Date {
    return this.options.clock.now();
  }

  async issue(appUserId: string, entitlements: readonly Entitlement[]): Promise<ScopedTokenGrant & { token: string }> {
    const grant = scopedTokenGrant(entitlements, toTimestamp(this.now()), this.options.maxLifetimeMs);
    const key = await this.keyRing.signingKey();
    const token = await new SignJWT({ scope: grant.scope.join(' ') })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setSubject(appUserId)
      .setIssuedAt(Math.floor(millis(grant.issuedAt) / 1000))
      .setExpirationTime(millis(grant.expiresAt) / 1000)
      .sign(key.privateKey);
    return { ...grant, token };
  }

  /** The token's subject and scope; `token_expired` or `token_invalid` otherwise. */
  async verify(token: string): Promise<VerifiedScopedToken> {
    const remembered = this.verified.get(token);
    if (remembered) {
      if (remembered.expiresAt > this.now()) return remembered;
      this.verified.delete(token);
      throw new TokenRejected('token_expired', 'The token has expired');
    }
    const claims = await this.verifySignature(token);
    this.remember(token, claims);
    return claims;
  }

  private async verifySignature(token: string): Promise<VerifiedScopedToken> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        algorithms: ['ES256'],
        typ: 'at+jwt',
        currentDate: this.now(),
        requiredClaims: ['sub', 'exp', 'iat', 'aud'],
      });
      if (typeof payload.scope !== 'string') throw new TokenRejected('token_invalid', 'The token has no scope');
      return {
        appUserId: payload.sub!,
        scope: payload.scope ? payload.scope.split(' ') : [],
        expiresAt: new Date(payload.exp! * 1000),
      };
    } catch (error) {
      if (error instanceof TokenRejected) throw error;
      if (error instanceof errors.JWTExpired) throw new TokenRejected('token_expired', 'The token has expired');
      throw new TokenRejected('token_invalid', 'The token is not one Subledger issued, or it was altered');
    }
  }

  private remember(token: string, claims: VerifiedScopedToken): void {
    const limit = this.options.cacheSize ?? 100_000;
    if (this.verified.size >= limit) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
  }
}
