import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenKeyRing } from '../../tokens/token-key-ring.ts';

/**
 * `GET /.well-known/jwks.json`: the public keys that verify scoped tokens, for CDN
 * edges and other services to check tokens offline. Cacheable for a few minutes: a
 * key is published here two cache lifetimes before it signs its first token (the
 * first one when the service starts), so a verifier never meets a key id it could not
 * have fetched.
 */
export const jwksRoutes: FastifyPluginAsync<{ keyRing: TokenKeyRing }> = async (app, { keyRing }) => {
  const schema = {
    description: 'Public keys (ES256) that verify scoped tokens',
    response: {
      200: z.object({ keys: z.array(z.looseObject({ kid: z.string().optional(), kty: z.string().optional() })) }),
    },
  };
  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/.well-known/jwks.json', { schema }, async (_, reply) =>
      reply
        .header('cache-control', `public, max-age=${keyRing.jwksCacheSeconds}`)
        .send({ keys: await keyRing.publicKeys() }),
    );
};
