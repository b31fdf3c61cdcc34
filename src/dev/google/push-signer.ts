import { readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { signPushToken } from './test-push.ts';

/**
 * A Pub/Sub push signer whose key outlives the process, for `subledger google-dev`: `serve`
 * publishes the public half as Google's JWKS, and each command that posts a push signs
 * with the private half. The key is a JWK in a file of its own under `.data` (ignored by
 * git). Local development only: never on a production path.
 */
export interface DevPushSigner {
  /** The public key, as Google publishes its own at GOOGLE_OIDC_JWKS_URL. */
  readonly jwks: JSONWebKeySet;
  /** An OIDC token as Pub/Sub attaches it to a push. */
  token(): Promise<string>;
}

/** Writes a new RS256 key to `file`, readable by its owner only. */
export async function writePushSignerKey(file: string): Promise<void> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  await writeFile(file, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600 });
}

export async function loadPushSigner(
  file: string,
  claims: { audience: string; email: string },
): Promise<DevPushSigner> {
  const { d, p, q, dp, dq, qi, ...publicJwk } = JSON.parse(await readFile(file, 'utf8')) as JWK;
  const privateKey = await importJWK({ ...publicJwk, d, p, q, dp, dq, qi }, 'RS256');
  return {
    jwks: { keys: [publicJwk] },
    token: () => signPushToken(privateKey as CryptoKey, publicJwk.kid!, claims),
  };
}
