import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Catalog } from '../../domain/catalog.ts';
import { submitApplePurchase, type SubmitDeps } from '../../ingest/apple/submit-purchase.ts';
import type { CustomerCache } from '../../projections/entitlements/customer-cache.ts';
import { customerEntitlements } from '../../projections/entitlements/customer-entitlements.ts';
import type { ProjectionRunner } from '../../projections/runner.ts';
import type { Authenticator } from '../../auth/authenticator.ts';
import { customerAccess } from '../authorization.ts';
import { customerDocument } from '../customer-document.ts';
import { sendProblem } from '../problems.ts';
import { sendAppleProblem } from './apple-problems.ts';

export interface CustomerRouteDeps {
  /** Who may reach a customer: the app user themself, or a server with an API key. */
  readonly authenticator: Authenticator;
  /** Customers' purchases, through the cache the read model invalidates. */
  readonly customers: CustomerCache;
  readonly catalog: Catalog;
  /** The projection customers are read from, to wait on after a write (read-your-writes). */
  readonly entitlements: ProjectionRunner;
  /** App Store purchase submissions; absent when the service does not ingest App Store purchases. */
  readonly apple?: SubmitDeps;
}

const params = z.object({ appUserId: z.string().min(1).max(256) });
const appleSubmission = z.union([
  z.strictObject({ signedTransaction: z.string().min(1) }),
  z.strictObject({ receipt: z.string().min(1) }),
]);
/** How long a submission waits for the read model to show what it recorded. */
const READ_YOUR_WRITES_TIMEOUT_MS = 5_000;

/** Customers as apps see them: each app user reaches their own; servers with an API key reach any. */
export const customerRoutes: FastifyPluginAsync<CustomerRouteDeps> = async (app, deps) => {
  const document = async (appUserId: string) =>
    customerDocument(appUserId, await customerEntitlements(deps.customers, deps.catalog, appUserId));

  const preHandler = customerAccess(deps.authenticator);
  app.get('/v1/customers/:appUserId', { preHandler }, async (request, reply) => {
    const parsed = params.safeParse(request.params);
    if (!parsed.success) return sendProblem(reply, 400, 'malformed_request', 'The app user id is invalid');
    return reply.send(await document(parsed.data.appUserId));
  });

  const apple = deps.apple;
  if (!apple) return;
  // Legacy receipts with a long history run to hundreds of kilobytes.
  app.post(
    '/v1/customers/:appUserId/purchases/apple',
    { bodyLimit: 1024 * 1024, preHandler },
    async (request, reply) => {
      const user = params.safeParse(request.params);
      const body = appleSubmission.safeParse(request.body);
      if (!user.success || !body.success) {
        return sendProblem(
          reply,
          400,
          'malformed_request',
          'Expected a JSON body with either "signedTransaction" (StoreKit 2) or "receipt" (base64 app receipt)',
        );
      }
      let submitted;
      try {
        submitted = await submitApplePurchase(apple, user.data.appUserId, body.data);
      } catch (error) {
        const problem = sendAppleProblem(reply, error);
        if (!problem) throw error;
        request.log.warn({ err: error }, 'App Store purchase submission refused');
        return problem;
      }
      // Read your writes: answer once the read model shows what was just recorded.
      const caughtUp =
        !submitted.position || (await deps.entitlements.waitFor(submitted.position, READ_YOUR_WRITES_TIMEOUT_MS));
      if (!caughtUp) request.log.warn('entitlements did not catch up in time; the answer may be stale');
      // The read model's notice of this change may still be on its way: do not wait for it.
      for (const appUserId of [user.data.appUserId, ...submitted.previousOwners]) deps.customers.invalidate(appUserId);
      return reply.send(await document(user.data.appUserId));
    },
  );
};
