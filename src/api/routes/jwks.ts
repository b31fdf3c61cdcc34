import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenKeyRing } from '../../tokens/token-key-ring.ts';

/**
 * `GET /.well-known/jwks.json`: the public keys that verify scoped tokens, for CDN
 * edges and other services to check tokens offline. Cacheable for a few minutes: a
 * new key signs its first token only after it is published here, and verifiers that
 * meet an unknown key id fetch the set again.
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
      reply.header('cache-control', 'public, max-age=300').send({ keys: await keyRing.publicKeys() }),
    );
};
