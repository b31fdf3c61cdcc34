import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Queryable } from '../../db/pool.ts';
import { sourceDocument } from '../../application/source-document.ts';
import { adminAccess } from '../authorization.ts';
import { problems } from '../schemas.ts';

const documentIdParams = z.object({
  documentId: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'not a document id (sha256:<64 hex digits>)')
    .describe('As a history entry’s source or cause names it'),
});

/**
 * The source document archive, for support staff: the evidence behind any recorded fact,
 * verbatim (its signature can be checked again) and decoded for reading.
 */
export const adminDocumentRoutes: FastifyPluginAsync<{ authenticator: Authenticator; db: Queryable }> = async (
  plain,
  deps,
) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/v1/admin/documents/:documentId',
    {
      onRequest: adminAccess(deps.authenticator),
      schema: {
        description:
          'A document as a store or app sent it (an App Store notification, a Pub/Sub push, a Play API answer), exactly as received, with a decoded view',
        security: [{ bearer: [] }],
        params: documentIdParams,
        response: {
          200: z.object({
            documentId: z.string(),
            kind: z.string().describe('e.g. apple.notification.v2, google.rtdn, google.subscriptionsv2.get'),
            contentType: z.string(),
            receivedAt: z.string(),
            body: z.string().describe('Verbatim: the bytes received, never re-serialised'),
            notification: z
              .object({ store: z.string(), type: z.string(), subtype: z.string().nullable() })
              .nullable()
              .describe('The store notification it is, by the store’s names; null: not a notification'),
            decoded: z
              .unknown()
              .describe(
                'For reading, not verified here: a JWS as {header, payload} with the JWSs inside decoded alike; a push with its data decoded; other JSON as is',
              ),
          }),
          ...problems(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const document = await sourceDocument(deps, request.params.documentId);
      return { ...document, receivedAt: document.receivedAt.toISOString() };
    },
  );
};
