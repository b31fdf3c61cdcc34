import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { API_KEY_PREFIX, type ApiKeyRole, type ApiKeys } from './api-keys.ts';
import { DEV_ISSUER, type DevTokens } from './dev-tokens.ts';
import { Refusal } from '../domain/refusal.ts';
import type { Clock } from '../domain/clock.ts';

/** Who is calling: an app user (signed in with the app's identity provider), or a server with an API key. */
export type Caller =
  | { readonly kind: 'app_user'; readonly appUserId: string }
  | { readonly kind: 'server'; readonly keyId: string; readonly name: string; readonly role: ApiKeyRole };

export type AuthenticationFailureCode = 'unauthenticated' | 'token_expired' | 'token_invalid';

export class AuthenticationFailed extends Refusal<AuthenticationFailureCode> {
  constructor(code: AuthenticationFailureCode, message: string) {
    super('unauthenticated', code, message);
  }
}

/** The app's own OAuth 2.0 / OIDC provider, whose access tokens name the app user in `sub`. */
export interface IdentityProvider {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience?: string;
}

/**
 * Turns an `Authorization: Bearer ...` header into a caller. API keys (`sl_...`) are
 * looked up by hash; anything else must be an access token of the configured identity
 * provider, verified against its JWKS (fetched, cached and refreshed by jose).
 */
export class Authenticator {
  private readonly jwks: JWTVerifyGetKey | undefined;
  /** Live API keys seen lately, so a hot client costs no query: a revocation bites within `apiKeyCacheMs`. */
  private readonly servers: LRUCache<string, Caller> | undefined;
  /** API keys found to be unknown or revoked, for as long as known ones are remembered. */
  private readonly unknownKeys: LRUCache<string, true> | undefined;
  /**
   * App users' access tokens already verified, until they expire: a signature is
   * checked once per token, not once per request (a JWT stays valid until `exp`
   * whatever happens meanwhile, so remembering it changes no answer).
   */
  private readonly appUsers = new LRUCache<string, { caller: Caller; expiresAt: number }>({ max: 100_000 });

  private readonly apiKeys: ApiKeys;
  private readonly identityProvider: IdentityProvider | undefined;
  /** Development tokens (`subledger dev-token`), trusted only when given. */
  private readonly devTokens: DevTokens | undefined;

  /** When tokens expire is judged by this clock (a test's own in tests). */
  private readonly clock: Clock;

  constructor(
    apiKeys: ApiKeys,
    identityProvider: IdentityProvider | undefined,
    options: { readonly clock: Clock; readonly devTokens?: DevTokens; readonly apiKeyCacheMs?: number },
  ) {
    const { clock, devTokens, apiKeyCacheMs = 30_000 } = options;
    this.apiKeys = apiKeys;
    this.identityProvider = identityProvider;
    this.devTokens = devTokens;
    this.clock = clock;
    this.servers = apiKeyCacheMs > 0 ? new LRUCache({ max: 10_000, ttl: apiKeyCacheMs }) : undefined;
    this.unknownKeys = apiKeyCacheMs > 0 ? new LRUCache({ max: 10_000, ttl: apiKeyCacheMs }) : undefined;
    this.jwks = identityProvider && createRemoteJWKSet(new URL(identityProvider.jwksUrl));
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    const token = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) throw new AuthenticationFailed('unauthenticated', 'Send "Authorization: Bearer <token or API key>"');
    if (token.startsWith(API_KEY_PREFIX)) {
      let caller = this.servers?.get(token);
      if (!caller) {
        // Unknown keys are remembered too: guessing keys must not cost a query each.
        const key = this.unknownKeys?.has(token) ? undefined : await this.apiKeys.find(token);
        if (!key) {
          this.unknownKeys?.set(token, true);
          throw new AuthenticationFailed('token_invalid', 'Unknown or revoked API key');
        }
        caller = { kind: 'server', keyId: key.keyId, name: key.name, role: key.role };
        this.servers?.set(token, caller);
      }
      return caller;
    }
    const known = this.appUsers.get(token);
    if (known) {
      if (this.clock.now().getTime() < known.expiresAt) return known.caller;
      this.appUsers.delete(token);
      throw new AuthenticationFailed('token_expired', 'The token has expired');
    }
    const dev = this.devTokens && issuerOf(token) === DEV_ISSUER;
    if (!dev && (!this.jwks || !this.identityProvider)) {
      throw new AuthenticationFailed('token_invalid', 'No identity provider is configured for app users');
    }
    try {
      const { payload } = dev
        ? await jwtVerify(token, this.devTokens!.keys, {
            issuer: DEV_ISSUER,
            requiredClaims: ['sub', 'exp'],
            currentDate: this.clock.now(),
          })
        : await jwtVerify(token, this.jwks!, {
            issuer: this.identityProvider!.issuer,
            currentDate: this.clock.now(),
            ...(this.identityProvider!.audience && { audience: this.identityProvider!.audience }),
            requiredClaims: ['sub', 'exp'],
          });
      const caller: Caller = { kind: 'app_user', appUserId: payload.sub! };
      this.appUsers.set(token, { caller, expiresAt: payload.exp! * 1000 });
      return caller;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AuthenticationFailed('token_expired', 'The token has expired');
      throw new AuthenticationFailed('token_invalid', 'The token is not valid for this service');
    }
  }
}

/** The claimed issuer, unverified: only to choose which keys verify the token. */
function issuerOf(token: string): string | undefined {
  try {
    return decodeJwt(token).iss;
  } catch {
    return undefined;
  }
}
