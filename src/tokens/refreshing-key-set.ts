import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';

/**
 * Keys for jose's `jwtVerify`, read once and kept: verifying costs no query. A key id
 * it does not know (a key another instance created since) makes it read the keys again,
 * once, before the token is refused.
 */
export function refreshingKeySet(load: () => Promise<JWK[]>): JWTVerifyGetKey {
  let keys: JWTVerifyGetKey | undefined;
  return async (header, token) => {
    keys ??= createLocalJWKSet({ keys: await load() });
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      keys = createLocalJWKSet({ keys: await load() });
      return keys(header, token);
    }
  };
}
