import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Catalog } from '../../domain/catalog.ts';
import type { SubmitDeps } from '../../ingest/apple/submit-purchase.ts';
import { submitAppStorePurchase, submitPlayPurchase } from '../../application/submit-purchase.ts';
import type { CustomerCache } from '../../projections/entitlements/customer-cache.ts';
import { customerNow } from '../../projections/entitlements/customer-entitlements.ts';
import type { Authenticator } from '../../auth/authenticator.ts';
import { customerAccess } from '../authorization.ts';
import { customerDocument } from '../../application/customer-document.ts';
import { appUserIdParams, customerSchema, problems } from '../schemas.ts';
import type { GoogleSubmitDeps } from '../../ingest/google/submit-purchase.ts';
import type { ReadModelView } from '../../application/read-model-view.ts';
import type { Clock } from '../../domain/clock.ts';

export interface CustomerRouteDeps {
  /** Who may reach a customer: the app user themself, or a server with an API key. */
  readonly authenticator: Authenticator;
  /** Customers' purchases, through the cache the read model invalidates: dropped here after a write. */
  readonly customers: CustomerCache;
  readonly catalog: Catalog;
  /** The read model customers are read from, to wait on after a write (read your writes). */
  readonly view: ReadModelView;
  /** The moment a customer's entitlements are answered for. */
  readonly clock: Clock;
  /** App Store purchase submissions; absent when the service does not ingest App Store purchases. */
  readonly apple?: SubmitDeps;
  /** Google Play purchase submissions; absent without Play Developer API access. */
  readonly google?: GoogleSubmitDeps;
}

const appleSubmission = z
  .union([
    z.strictObject({ signedTransaction: z.string().min(1).describe('StoreKit 2 Transaction.jwsRepresentation') }),
    z.strictObject({ receipt: z.string().min(1).describe('The base64 app receipt (older app versions)') }),
  ])
  .describe('Exactly one of the two');
const googleSubmission = z
  .strictObject({
    packageName: z.string().min(1).max(256),
    productId: z.string().min(1).max(256).describe('The Play product or subscription id'),
    purchaseToken: z.string().min(1).max(4096),
  })
  .describe("Play Billing's Purchase: getPackageName(), getProducts()[0], getPurchaseToken()");

/** Customers as apps see them: each app user reaches their own; servers with an API key reach any. */
export const customerRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const document = async (appUserId: string) =>
    customerDocument(await customerNow(deps.customers, deps.catalog, appUserId, deps.clock.now()), deps.catalog);
  const onRequest = customerAccess(deps.authenticator);
  const security = [{ bearer: [] }];

  app.get(
    '/v1/customers/:appUserId',
    {
      onRequest,
      schema: {
        description: "The customer's entitlements now; an unknown user has none",
        security,
        params: appUserIdParams,
        response: { 200: customerSchema, ...problems(400, 401, 403) },
      },
    },
    async (request) => document(request.params.appUserId),
  );

  const google = deps.google;
  if (google) {
    app.post(
      '/v1/customers/:appUserId/purchases/google',
      {
        onRequest,
        schema: {
          description: 'An app submits a Google Play purchase; answers once the entitlements show it',
          security,
          params: appUserIdParams,
          body: googleSubmission,
          response: { 200: customerSchema, ...problems(400, 401, 403, 409, 422, 503) },
        },
      },
      async (request) => {
        const { appUserId } = request.params;
        await submitPlayPurchase({ google, view: deps.view }, appUserId, request.body);
        return document(appUserId);
      },
    );
  }

  const apple = deps.apple;
  if (!apple) return;
  app.post(
    '/v1/customers/:appUserId/purchases/apple',
    {
      // Legacy receipts with a long history run to hundreds of kilobytes.
      bodyLimit: 1024 * 1024,
      onRequest,
      schema: {
        description: 'An app submits an App Store purchase; answers once the entitlements show it',
        security,
        params: appUserIdParams,
        body: appleSubmission,
        response: { 200: customerSchema, ...problems(400, 401, 403, 409, 413, 422, 502, 503) },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      await submitAppStorePurchase({ apple, view: deps.view }, appUserId, request.body);
      return document(appUserId);
    },
  );
};
