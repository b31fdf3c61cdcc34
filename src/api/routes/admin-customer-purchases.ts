import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { customerPurchases } from '../../application/customer-purchases.ts';
import { adminAccess } from '../authorization.ts';
import { appUserIdParams, problems } from '../schemas.ts';
import type { AdminCustomerRouteDeps } from './admin-customers.ts';

const transaction = z.object({
  transactionId: z.string().describe('Apple’s transaction id; Google’s order id'),
  storeProductId: z.string(),
  purchasedAt: z.string(),
  expiresAt: z.string().nullable().describe('null: never expires'),
  periodType: z.string().describe('trial, intro or normal'),
  offer: z.string().nullable(),
  price: z.object({ amount: z.string(), currency: z.string() }).nullable().describe('null: the store did not say'),
  revoked: z.object({ at: z.string(), reason: z.string() }).nullable().describe('Refunded or revoked'),
});
const ownerChange = z.object({
  at: z.string().describe('Store time'),
  appUserId: z.string(),
  via: z
    .string()
    .describe(
      'app_account_token, app_submission, restore_transfer, support_transfer; refused: a claim that was refused',
    ),
  previousAppUserId: z.string().nullable(),
  by: z.string().nullable().describe('The staff member, for a transfer by support'),
  reason: z.string().nullable(),
});
const purchase = z.object({
  store: z.string(),
  environment: z.string(),
  purchaseId: z.string().describe('Apple’s original transaction id, Google’s purchase token, a grant’s id'),
  productId: z.string().nullable().describe('The catalog product; null: the catalog does not know it'),
  storeProductId: z.string().nullable(),
  owner: z.string().nullable().describe('Who owns it now (it may have moved to another customer)'),
  transactions: z.array(transaction).describe('Apple’s transactions, Google’s orders, oldest first'),
  owners: z.array(ownerChange).describe('Who owned it when, oldest first'),
});

/** The customer's purchases with their transactions and owners, for support staff (and the console's table). */
export const adminCustomerPurchaseRoutes: FastifyPluginAsync<AdminCustomerRouteDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/v1/admin/customers/:appUserId/purchases',
    {
      onRequest: adminAccess(deps.authenticator),
      schema: {
        description:
          'Every store purchase the customer was ever linked to, from the event store: its transactions or orders with prices, its environment, and who owned it when',
        security: [{ bearer: [] }],
        params: appUserIdParams,
        response: {
          200: z.object({ appUserId: z.string(), purchases: z.array(purchase) }),
          ...problems(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { appUserId } = request.params;
      const purchases = await customerPurchases(deps, appUserId);
      return {
        appUserId,
        purchases: purchases.map((p) => ({ ...p, transactions: [...p.transactions], owners: [...p.owners] })),
      };
    },
  );
};
