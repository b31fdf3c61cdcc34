import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Environment, SignedDataVerifier, VerificationStatus } from '@apple/app-store-server-library';
import { refusal } from '../support/verification.ts';
import { createAppleTestCa, importAppleTestSigner, type AppleTestCa } from '../../src/dev/apple/test-signer.ts';

const APPLE_ROOT_PATH = fileURLToPath(new URL('../../certs/apple/AppleRootCA-G3.cer', import.meta.url));
// From shared/apple/README.md (Apple's published fingerprint for Apple Root CA - G3).
const APPLE_ROOT_SHA256 =
  '63:34:3A:BF:B8:9A:6A:03:EB:B5:7E:9B:3F:5F:A7:BE:7C:4F:5C:75:6F:30:17:B3:A8:C4:88:C3:65:3E:91:79';

const BUNDLE_ID = 'com.example.pulse';
const APP_APPLE_ID = 1234567890;
const DAY = 24 * 60 * 60 * 1000;

const sandboxVerifier = (roots: Buffer[], bundleId = BUNDLE_ID) =>
  new SignedDataVerifier(roots, false, Environment.SANDBOX, bundleId, APP_APPLE_ID);

describe('Apple Root CA - G3 in the project', () => {
  it('is the certificate Apple publishes (SHA-256 fingerprint)', () => {
    const der = readFileSync(APPLE_ROOT_PATH);
    const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
    expect(hex.match(/../g)!.join(':')).toBe(APPLE_ROOT_SHA256);
    const cert = new X509Certificate(der);
    expect(cert.fingerprint256).toBe(APPLE_ROOT_SHA256);
    expect(cert.subject).toContain('CN=Apple Root CA - G3');
  });
});

describe('test CA signing, verified by Apple’s SignedDataVerifier', () => {
  let ca: AppleTestCa;
  const now = Date.now();
  const originalTransactionId = '2000000812345678';

  const transaction = (overrides: Record<string, unknown> = {}) => ({
    transactionId: originalTransactionId,
    originalTransactionId,
    webOrderLineItemId: '2000000061234567',
    bundleId: BUNDLE_ID,
    productId: 'com.example.pulse.premium.monthly',
    subscriptionGroupIdentifier: '21345678',
    purchaseDate: now,
    originalPurchaseDate: now,
    expiresDate: now + 5 * 60 * 1000, // sandbox runs a monthly subscription in 5 minutes
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138',
    inAppOwnershipType: 'PURCHASED',
    signedDate: now,
    environment: 'Sandbox',
    transactionReason: 'PURCHASE',
    storefront: 'USA',
    storefrontId: '143441',
    price: 9990,
    currency: 'USD',
    ...overrides,
  });
  const renewalInfo = (overrides: Record<string, unknown> = {}) => ({
    originalTransactionId,
    autoRenewProductId: 'com.example.pulse.premium.monthly',
    productId: 'com.example.pulse.premium.monthly',
    autoRenewStatus: 1,
    signedDate: now,
    environment: 'Sandbox',
    recentSubscriptionStartDate: now,
    renewalDate: now + 5 * 60 * 1000,
    renewalPrice: 9990,
    currency: 'USD',
    ...overrides,
  });
  const notification = async (signer = ca.signer, data: Record<string, unknown> = {}) => ({
    notificationType: 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    notificationUUID: randomUUID(),
    version: '2.0',
    signedDate: now,
    data: {
      appAppleId: APP_APPLE_ID,
      bundleId: BUNDLE_ID,
      bundleVersion: '42',
      environment: 'Sandbox',
      status: 1,
      signedTransactionInfo: await signer.sign(transaction()),
      signedRenewalInfo: await signer.sign(renewalInfo()),
      ...data,
    },
  });

  beforeAll(async () => {
    ca = await createAppleTestCa();
  });

  it('accepts a SUBSCRIBED/INITIAL_BUY notification and both nested JWS', async () => {
    const verifier = sandboxVerifier([ca.rootDer]);
    const signedPayload = await ca.signer.sign(await notification());
    expect(signedPayload.split('.')).toHaveLength(3);

    const decoded = await verifier.verifyAndDecodeNotification(signedPayload);
    expect(decoded).toMatchObject({ notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY', version: '2.0' });
    expect(decoded.data).toMatchObject({ bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID, environment: 'Sandbox' });

    const tx = await verifier.verifyAndDecodeTransaction(decoded.data!.signedTransactionInfo!);
    expect(tx).toEqual(transaction());
    const renewal = await verifier.verifyAndDecodeRenewalInfo(decoded.data!.signedRenewalInfo!);
    expect(renewal).toEqual(renewalInfo());
  });

  it('puts leaf, intermediate and root in x5c, and a persisted signer still verifies', async () => {
    const jws = await ca.signer.sign(transaction());
    const protectedHeader = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8'));
    expect(protectedHeader).toEqual({ alg: 'ES256', x5c: [...ca.signer.x5c] });
    expect(Buffer.from(ca.signer.x5c[2]!, 'base64')).toEqual(ca.rootDer);
    expect(new X509Certificate(ca.rootPem).raw).toEqual(ca.rootDer);

    const reloaded = await importAppleTestSigner(await ca.signer.export());
    await expect(
      sandboxVerifier([ca.rootDer]).verifyAndDecodeTransaction(await reloaded.sign(transaction())),
    ).resolves.toEqual(transaction());
  });

  describe('refuses', () => {
    it('a chain from another (untrusted) root: VERIFICATION_FAILURE', async () => {
      const rogue = await createAppleTestCa({ name: 'Rogue' });
      const forged = await rogue.signer.sign(await notification(rogue.signer));
      expect(await refusal(sandboxVerifier([ca.rootDer]).verifyAndDecodeNotification(forged))).toBe(
        VerificationStatus.VERIFICATION_FAILURE,
      );
      // Production trust (Apple's real root only) refuses the test CA too.
      const appleOnly = sandboxVerifier([readFileSync(APPLE_ROOT_PATH)]);
      expect(await refusal(appleOnly.verifyAndDecodeNotification(await ca.signer.sign(await notification())))).toBe(
        VerificationStatus.VERIFICATION_FAILURE,
      );
    });

    it('a leaf without Apple’s marker OID: VERIFICATION_FAILURE', async () => {
      const noOid = await ca.issueSigner({ appleOid: false });
      const signed = await noOid.sign(await notification(noOid));
      expect(await refusal(sandboxVerifier([ca.rootDer]).verifyAndDecodeNotification(signed))).toBe(
        VerificationStatus.VERIFICATION_FAILURE,
      );
    });

    it('an expired leaf: INVALID_CERTIFICATE, judged at the payload’s signedDate when online checks are off', async () => {
      const expired = await ca.issueSigner({ expired: true });
      const verifier = sandboxVerifier([ca.rootDer]);
      expect(await refusal(verifier.verifyAndDecodeTransaction(await expired.sign(transaction())))).toBe(
        VerificationStatus.INVALID_CERTIFICATE,
      );
      // Offline, validity is checked at signedDate, not now: data signed while the leaf was valid still verifies.
      const signedWhileValid = transaction({ signedDate: now - 2 * DAY });
      await expect(verifier.verifyAndDecodeTransaction(await expired.sign(signedWhileValid))).resolves.toEqual(
        signedWhileValid,
      );
    });

    it('a tampered payload or nested transaction: VERIFICATION_FAILURE', async () => {
      const verifier = sandboxVerifier([ca.rootDer]);
      const [header, payload, signature] = (await ca.signer.sign(await notification())).split('.') as [
        string,
        string,
        string,
      ];
      const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      const tampered = Buffer.from(JSON.stringify({ ...body, subtype: 'RESUBSCRIBE' })).toString('base64url');
      expect(await refusal(verifier.verifyAndDecodeNotification(`${header}.${tampered}.${signature}`))).toBe(
        VerificationStatus.VERIFICATION_FAILURE,
      );

      const [txHeader, txPayload, txSignature] = (await ca.signer.sign(transaction())).split('.') as [
        string,
        string,
        string,
      ];
      const longer = Buffer.from(
        JSON.stringify({
          ...JSON.parse(Buffer.from(txPayload, 'base64url').toString('utf8')),
          expiresDate: now + 365 * DAY,
        }),
      ).toString('base64url');
      expect(await refusal(verifier.verifyAndDecodeTransaction(`${txHeader}.${longer}.${txSignature}`))).toBe(
        VerificationStatus.VERIFICATION_FAILURE,
      );
    });

    it('a wrong bundle id: INVALID_APP_IDENTIFIER (renewal info carries none and is not checked)', async () => {
      const otherApp = sandboxVerifier([ca.rootDer], 'com.example.other');
      const signed = await ca.signer.sign(await notification());
      expect(await refusal(otherApp.verifyAndDecodeNotification(signed))).toBe(
        VerificationStatus.INVALID_APP_IDENTIFIER,
      );
      expect(await refusal(otherApp.verifyAndDecodeTransaction(await ca.signer.sign(transaction())))).toBe(
        VerificationStatus.INVALID_APP_IDENTIFIER,
      );
      // Documented gap: renewal info has no bundleId, so Subledger must tie it to a verified transaction itself.
      await expect(otherApp.verifyAndDecodeRenewalInfo(await ca.signer.sign(renewalInfo()))).resolves.toBeDefined();
    });

    it('the other environment: INVALID_ENVIRONMENT', async () => {
      const production = new SignedDataVerifier([ca.rootDer], false, Environment.PRODUCTION, BUNDLE_ID, APP_APPLE_ID);
      expect(await refusal(production.verifyAndDecodeNotification(await ca.signer.sign(await notification())))).toBe(
        VerificationStatus.INVALID_ENVIRONMENT,
      );
      expect(await refusal(production.verifyAndDecodeTransaction(await ca.signer.sign(transaction())))).toBe(
        VerificationStatus.INVALID_ENVIRONMENT,
      );
      expect(await refusal(production.verifyAndDecodeRenewalInfo(await ca.signer.sign(renewalInfo())))).toBe(
        VerificationStatus.INVALID_ENVIRONMENT,
      );
    });

    it('a wrong App Apple ID in Production only: INVALID_APP_IDENTIFIER', async () => {
      const production = new SignedDataVerifier([ca.rootDer], false, Environment.PRODUCTION, BUNDLE_ID, APP_APPLE_ID);
      const otherAppId = await ca.signer.sign(
        await notification(ca.signer, { environment: 'Production', appAppleId: 42 }),
      );
      expect(await refusal(production.verifyAndDecodeNotification(otherAppId))).toBe(
        VerificationStatus.INVALID_APP_IDENTIFIER,
      );
      // Sandbox notifications are not checked against appAppleId.
      const sandboxOtherAppId = await ca.signer.sign(await notification(ca.signer, { appAppleId: 42 }));
      await expect(sandboxVerifier([ca.rootDer]).verifyAndDecodeNotification(sandboxOtherAppId)).resolves.toBeDefined();
    });

    it('an x5c without exactly three certificates: INVALID_CERTIFICATE (INVALID_CHAIN_LENGTH is wrapped)', async () => {
      const [, payload, signature] = (await ca.signer.sign(await notification())).split('.') as [
        string,
        string,
        string,
      ];
      const shortChain = Buffer.from(JSON.stringify({ alg: 'ES256', x5c: ca.signer.x5c.slice(0, 2) })).toString(
        'base64url',
      );
      const status = await refusal(
        sandboxVerifier([ca.rootDer]).verifyAndDecodeNotification(`${shortChain}.${payload}.${signature}`),
      );
      expect(status).toBe(VerificationStatus.INVALID_CERTIFICATE);
    });
  });

  it('skips signature and chain checks entirely for an Xcode verifier (never configure it for real traffic)', async () => {
    const rogue = await createAppleTestCa({ name: 'Rogue' });
    const xcode = new SignedDataVerifier([ca.rootDer], false, Environment.XCODE, BUNDLE_ID);
    const unsigned = await rogue.signer.sign(await notification(rogue.signer, { environment: 'Xcode' }));
    await expect(xcode.verifyAndDecodeNotification(unsigned)).resolves.toMatchObject({
      notificationType: 'SUBSCRIBED',
    });
  });
});
