import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * Stands in for Google where Google cannot be reached: tests and local development.
 * A signer of Pub/Sub push OIDC tokens (RS256, our own key, published as a JWKS over
 * loopback HTTP for Subledger to fetch as it would Google's), and push bodies as
 * Pub/Sub sends them. Nothing here is used on a production path.
 */
export interface TestPushSigner {
  /** Where the JWKS is served: GOOGLE_OIDC_JWKS_URL. */
  readonly jwksUrl: string;
  /** An OIDC token as Pub/Sub attaches it, with these claims over the defaults. */
  token(claims?: PushTokenClaims): Promise<string>;
  close(): Promise<void>;
}

export interface PushTokenClaims {
  readonly audience?: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly issuer?: string;
  /** Seconds since the epoch. */
  readonly expiresAt?: number;
}

export async function startTestPushSigner(defaults: { audience: string; email: string }): Promise<TestPushSigner> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomUUID();
  const jwks: { keys: JWK[] } = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const server = createServer((request, response) => {
    response.writeHead(request.url === '/oauth2/v3/certs' ? 200 : 404, { 'content-type': 'application/json' });
    response.end(request.url === '/oauth2/v3/certs' ? JSON.stringify(jwks) : '{}');
  });
  const port = await listen(server);
  return {
    jwksUrl: `http://127.0.0.1:${port}/oauth2/v3/certs`,
    token: (claims = {}) => signPushToken(privateKey, kid, { ...defaults, ...claims }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A push token as Pub/Sub makes one for a service account, with these claims over the defaults. */
export function signPushToken(
  privateKey: CryptoKey,
  kid: string,
  claims: PushTokenClaims & { readonly audience: string; readonly email: string },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: claims.email, email_verified: claims.emailVerified ?? true, azp: GOOGLE_SUBJECT })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(claims.issuer ?? 'https://accounts.google.com')
    .setAudience(claims.audience)
    .setSubject(GOOGLE_SUBJECT)
    .setIssuedAt(now)
    .setExpirationTime(claims.expiresAt ?? now + 3600)
    .sign(privateKey);
}
/** The numeric id Google gives a service account, as `sub` and `azp`. */
const GOOGLE_SUBJECT = '100000000000000000000';

/** A Pub/Sub push body carrying `notification`, with both spellings of the ids, as real pushes have. */
export function pushBody(notification: unknown, messageId: string = randomUUID()) {
  const publishTime = new Date().toISOString();
  return {
    message: {
      data: Buffer.from(JSON.stringify(notification)).toString('base64'),
      messageId,
      message_id: messageId,
      publishTime,
      publish_time: publishTime,
      attributes: {},
    },
    subscription: 'projects/subledger-test/subscriptions/play-notifications',
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}
