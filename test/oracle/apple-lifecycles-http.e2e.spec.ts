import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import type { AppleTestSigner } from '../../src/dev/apple/test-signer.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { appleScript, DAY, shifted, simulateApple, type SentNotification } from './apple/lifecycle.ts';
import { appleAnswerAt, boundaries } from './apple/model.ts';

/*
 * A sample of the generated App Store lifecycles through the real service: each
 * notification signed by a test CA, posted to the webhook (twice, or late, in any
 * order), through the intake queue and the projection, then the answers read over HTTP:
 * the customer document now, and support's entitlements at every boundary. The
 * thousands of lifecycles in apple-lifecycles.unit.spec.ts check the same answers
 * in-process; this shows the wiring gives the same.
 */
const SAMPLE = 6;
/** The test CA's root is valid from three years ago: stories must fit in that. */
const LONGEST = 2.5 * 365 * DAY;
let harness: AppleHarness;
let admin: string;
let signer: AppleTestSigner;

beforeAll(async () => {
  harness = await startAppleHarness();
  admin = (await new ApiKeys(harness.db.pool).create('oracle', 'admin')).secret;
  // Apple's signatures are checked as of their signedDate: a leaf valid back then.
  signer = await harness.ca.issueSigner({ notBefore: new Date(Date.now() - LONGEST - 2 * DAY) });
});
afterAll(() => harness?.stop());

describe('App Store lifecycles over HTTP, against the model', () => {
  it(`gives the model's answers through the webhook, the queue and the routes (${SAMPLE} lifecycles)`, async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(appleScript, fc.infiniteStream(fc.boolean()), async (script, duplicate) => {
        serial += 1;
        const user = `oracle-http-${serial}`;
        const generated = simulateApple(script, `30000000000${String(serial).padStart(5, '0')}`, user);
        fc.pre(generated.end - generated.sent[0]!.signedDate < LONGEST);
        // Moved so that it ended an hour ago: its answers now are about a finished story.
        const lifecycle = shifted(generated, Date.now() - DAY / 24 - generated.end);
        const deliveries = lifecycle.sent.flatMap((n) => (duplicate.next().value ? [n, n] : [n])).reverse();
        for (const n of deliveries) {
          const answer = await post('/v1/webhooks/apple', { signedPayload: await sign(n) });
          expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        }
        await harness.processed();

        for (const t of boundaries(lifecycle.sent, lifecycle.end).filter((t) => t < Date.now())) {
          const at = new Date(t).toISOString();
          const { body } = await get(`/v1/admin/customers/${user}/entitlements?at=${at}`);
          const premium = (body.asKnownNow as Record<string, Answer>).premium;
          expect(premium && answer(premium), at).toEqual(modelAnswer(lifecycle.sent, t));
        }
        const customer = (await get(`/v1/customers/${user}`)).body;
        const premium = (customer.entitlements as Record<string, Answer>).premium;
        expect(premium && answer(premium), 'now').toEqual(
          modelAnswer(lifecycle.sent, Date.parse(customer.at as string)),
        );
      }),
      { numRuns: SAMPLE, seed: 20261203 },
    );
  }, 240_000);
});

interface Answer {
  active: boolean;
  expiresAt: string | null;
  willRenew: boolean;
  storeProductId: string;
  periodType: string;
  billingIssueDetectedAt: string | null;
}
const answer = (e: Answer) => ({
  active: e.active,
  expiresAt: e.expiresAt,
  willRenew: e.willRenew,
  storeProductId: e.storeProductId,
  periodType: e.periodType,
  billingIssue: e.billingIssueDetectedAt !== null,
});
function modelAnswer(sent: readonly SentNotification[], t: number) {
  const model = appleAnswerAt(sent, t);
  return (
    model && {
      active: model.active,
      expiresAt: new Date(model.expiresAt).toISOString(),
      willRenew: model.willRenew,
      storeProductId: model.storeProductId,
      periodType: model.periodType,
      billingIssue: model.billingIssue,
    }
  );
}

/** The notification as the App Store signs it: the payload and both nested documents. */
async function sign(n: SentNotification): Promise<string> {
  return signer.sign({
    notificationType: n.notificationType,
    ...(n.subtype && { subtype: n.subtype }),
    notificationUUID: n.notificationUUID,
    version: '2.0',
    signedDate: n.signedDate,
    data: {
      appAppleId: 1234567890,
      bundleId: n.transaction.bundleId,
      environment: 'Production',
      status: 1,
      signedTransactionInfo: await signer.sign(n.transaction),
      signedRenewalInfo: await signer.sign(n.renewalInfo),
    },
  });
}

async function request(pathname: string, init: RequestInit = {}) {
  const response = await fetch(`${harness.subledger.url}${pathname}`, {
    ...init,
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
const get = (pathname: string) => request(pathname);
const post = (pathname: string, body: unknown) => request(pathname, { method: 'POST', body: JSON.stringify(body) });
