import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { refusalFamily, type KindOfCode } from '../../domain/refusal.ts';

/** Google's keys for the OIDC tokens Pub/Sub push attaches. */
export const GOOGLE_OIDC_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export interface PushAuthSettings {
  /** The audience set on the push subscription (by default its endpoint URL). */
  readonly audience: string;
  /** The service account the push subscription authenticates as. */
  readonly serviceAccountEmail: string;
  /** Where Google's signing keys are published; a local server in tests. */
  readonly jwksUrl: string;
}

export type PushRejectionCode =
  'push_unauthenticated' | 'push_token_expired' | 'push_token_invalid' | 'push_wrong_sender';

const KIND_OF: KindOfCode<PushRejectionCode> = {
  push_unauthenticated: 'unauthenticated',
  push_token_expired: 'unauthenticated',
  push_token_invalid: 'unauthenticated',
  push_wrong_sender: 'forbidden',
};

export class PushRejected extends refusalFamily(KIND_OF) {}

/** Proof that a push came from our subscription: only `PushAuthenticator.verify` makes one. */
export interface VerifiedPusher {
  readonly serviceAccountEmail: string;
}

/**
 * Checks that a push came from our Pub/Sub subscription: `Authorization: Bearer <OIDC
 * token>` signed by Google (RS256, keys from the JWKS, fetched and refreshed by jose),
 * issued by Google, for our audience, naming our push service account with a verified
 * email. Anyone can post to the webhook; only this proves who sent it.
 */
export class PushAuthenticator {
  private readonly keys: JWTVerifyGetKey;

  private readonly settings: PushAuthSettings;

  constructor(settings: PushAuthSettings) {
    this.settings = settings;
    this.keys = createRemoteJWKSet(new URL(settings.jwksUrl));
  }

  async verify(authorization: string | undefined): Promise<VerifiedPusher> {
    const token = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!token) throw new PushRejected('push_unauthenticated', 'Expected "Authorization: Bearer <Google OIDC token>"');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: GOOGLE_ISSUERS,
        audience: this.settings.audience,
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'iat', 'email'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired)
        throw new PushRejected('push_token_expired', 'The push token has expired');
      throw new PushRejected(
        'push_token_invalid',
        'The push token is not signed by Google for this audience, or it was altered',
      );
    }
    if (payload.email !== this.settings.serviceAccountEmail || payload.email_verified !== true) {
      throw new PushRejected('push_wrong_sender', 'The push does not come from the configured service account');
    }
    return { serviceAccountEmail: payload.email };
  }
}
