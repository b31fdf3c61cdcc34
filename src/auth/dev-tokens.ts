import { SignJWT, type JWTVerifyGetKey } from 'jose';
import type { Pool } from '../db/pool.ts';
import { refreshingKeySet } from '../tokens/refreshing-key-set.ts';
import { TokenKeyRing } from '../tokens/token-key-ring.ts';
import type { Clock } from '../domain/clock.ts';

/** The issuer of development app-user tokens; the authenticator trusts it only with AUTH_DEV_TOKENS=on. */
export const DEV_ISSUER = 'subledger-dev';
const YEAR = 365 * 86_400_000;

/**
 * A stand-in for an app's identity provider on a laptop: `subledger dev-token alice`
 * signs an access token for app user alice. Its key is kept apart from the scoped
 * tokens' keys, and the service trusts it only when told to (never in production).
 */
export class DevTokens {
  private readonly keyRing: TokenKeyRing;
  /** The keys that verify development tokens. */
  readonly keys: JWTVerifyGetKey;

  constructor(pool: Pool, clock: Clock) {
    this.keyRing = new TokenKeyRing(pool, {
      table: 'dev_identity_keys',
      rotationMs: YEAR,
      maxTokenLifetimeMs: YEAR,
      clock,
    });
    this.keys = refreshingKeySet(() => this.keyRing.publicKeys());
  }

  async mint(appUserId: string, lifetimeSeconds: number): Promise<string> {
    const key = await this.keyRing.signingKey();
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(DEV_ISSUER)
      .setSubject(appUserId)
      .setIssuedAt()
      .setExpirationTime(`${lifetimeSeconds}s`)
      .sign(key.privateKey);
  }
}
