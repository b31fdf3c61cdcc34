import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Catalog } from '../../domain/catalog.ts';
import { customerNow, type CustomerPurchasesReader } from '../../projections/entitlements/customer-entitlements.ts';
import type { ScopedTokens } from '../../tokens/scoped-tokens.ts';
import { customerAccess } from '../authorization.ts';
import { appUserIdParams, problems, scopedTokenSchema } from '../schemas.ts';
import type { Clock } from '../../domain/clock.ts';

export interface TokenRouteDeps {
  readonly authenticator: Authenticator;
  readonly customers: CustomerPurchasesReader;
  readonly catalog: Catalog;
  readonly tokens: ScopedTokens;
  readonly clock: Clock;
}

/**
 * `POST /v1/customers/{appUserId}/tokens`: a short-lived ES256 token whose `scope`
 * lists the customer's active entitlements, for premium content and other services
 * to check offline against `/.well-known/jwks.json`.
 */
export const tokenRoutes: FastifyPluginAsync<TokenRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/v1/customers/:appUserId/tokens',
    {
      onRequest: customerAccess(deps.authenticator),
      schema: {
        description: "A scoped token for the customer's active entitlements",
        security: [{ bearer: [] }],
        params: appUserIdParams,
        response: { 201: scopedTokenSchema, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { appUserId } = request.params;
      const { entitlements } = await customerNow(deps.customers, deps.catalog, appUserId, deps.clock.now());
      const issued = await deps.tokens.issue(appUserId, entitlements.entitlements);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({
          token: issued.token,
          tokenType: 'Bearer' as const,
          scope: [...issued.scope],
          expiresAt: issued.expiresAt,
        });
    },
  );
};
