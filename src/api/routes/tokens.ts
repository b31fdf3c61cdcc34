import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Catalog } from '../../domain/catalog.ts';
import type { CustomerPurchasesReader } from '../../projections/entitlements/customer-entitlements.ts';
import { customerEntitlements } from '../../projections/entitlements/customer-entitlements.ts';
import type { ScopedTokens } from '../../tokens/scoped-tokens.ts';
import { customerAccess } from '../authorization.ts';
import { sendProblem } from '../problems.ts';

export interface TokenRouteDeps {
  readonly authenticator: Authenticator;
  readonly customers: CustomerPurchasesReader;
  readonly catalog: Catalog;
  readonly tokens: ScopedTokens;
}

const params = z.object({ appUserId: z.string().min(1).max(256) });

/**
 * `POST /v1/customers/{appUserId}/tokens`: a short-lived ES256 token whose `scope`
 * lists the customer's active entitlements, for premium content and other services
 * to check offline against `/.well-known/jwks.json`.
 */
export const tokenRoutes: FastifyPluginAsync<TokenRouteDeps> = async (app, deps) => {
  app.post(
    '/v1/customers/:appUserId/tokens',
    { preHandler: customerAccess(deps.authenticator) },
    async (request, reply) => {
      const parsed = params.safeParse(request.params);
      if (!parsed.success) return sendProblem(reply, 400, 'malformed_request', 'The app user id is invalid');
      const { appUserId } = parsed.data;
      const { entitlements } = await customerEntitlements(deps.customers, deps.catalog, appUserId);
      const issued = await deps.tokens.issue(appUserId, entitlements);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ token: issued.token, tokenType: 'Bearer', scope: issued.scope, expiresAt: issued.expiresAt });
    },
  );
};
