import { beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog-file.ts';
import { signNotification, type NotificationSpec } from '../../src/dev/apple/test-notifications.ts';
import { createAppleTestCa, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';
import { AppleVerifier } from '../../src/ingest/apple/apple-verifier.ts';
import { readFileSync } from 'node:fs';

/*
 * A notification's transaction and renewal info are read from the notification Apple signed
 * (its signature covers their bytes), with the checks Apple's library would make of them
 * besides their own signatures: the app and the environment must be the notification's.
 */
const catalog = parseCatalog(readFileSync('catalog/sample-fitness.json', 'utf8'));
let ca: AppleTestCa;
let verifier: AppleVerifier;
beforeAll(async () => {
  ca = await createAppleTestCa({ name: 'Subledger verifier test' });
  verifier = new AppleVerifier(catalog.apps, { trustedRoots: [ca.rootDer], onlineChecks: false });
});

const spec = (overrides: Partial<NotificationSpec> = {}): NotificationSpec => ({
  type: 'SUBSCRIBED',
  subtype: 'INITIAL_BUY',
  signedDate: Date.now(),
  ...overrides,
});
const refusalOf = async (signedPayload: string) =>
  verifier.verify(signedPayload).then(
    () => 'accepted',
    (error: { code?: string }) => error.code,
  );

describe("a notification's transaction and renewal info", () => {
  it('are read from the verified notification', async () => {
    const { transaction, renewalInfo } = await verifier.verify(
      await signNotification(ca.signer, spec({ transaction: { originalTransactionId: '700', transactionId: '701' } })),
    );
    expect(transaction).toMatchObject({ originalTransactionId: '700', transactionId: '701', environment: 'Sandbox' });
    expect(renewalInfo).toMatchObject({ originalTransactionId: '700', autoRenewStatus: 1 });
  });

  it('are refused when the transaction is for another app than the notification', async () => {
    const signed = await signNotification(ca.signer, spec({ transaction: { bundleId: 'com.example.other' } }));
    expect(await refusalOf(signed)).toBe('wrong_app');
  });

  it('are refused when the transaction is from the other environment', async () => {
    const signed = await signNotification(ca.signer, spec({ transaction: { environment: 'Production' } }));
    expect(await refusalOf(signed)).toBe('wrong_environment');
  });

  it('are refused when the renewal info is for another subscription', async () => {
    const signed = await signNotification(ca.signer, spec({ renewalInfo: { originalTransactionId: '999' } }));
    expect(await refusalOf(signed)).toBe('wrong_app');
  });

  it('are refused when the transaction is not a JWS', async () => {
    const signed = await ca.signer.sign({
      notificationType: 'SUBSCRIBED',
      notificationUUID: '0f1e0e36-1f2c-4b4c-9e49-3f3c1f0e9a11',
      version: '2.0',
      signedDate: Date.now(),
      data: {
        appAppleId: 1234567890,
        bundleId: 'com.example.pulse',
        environment: 'Sandbox',
        signedTransactionInfo: 'x.y',
      },
    });
    expect(await refusalOf(signed)).toBe('malformed_payload');
  });

  it('are not trusted from a notification whose own signature fails', async () => {
    const [header, payload, signature] = (await signNotification(ca.signer, spec())).split('.') as [
      string,
      string,
      string,
    ];
    const forged = `${header}.${payload}.${signature.slice(0, -4)}AAAA`;
    expect(await refusalOf(forged)).toBe('invalid_signature');
  });
});
