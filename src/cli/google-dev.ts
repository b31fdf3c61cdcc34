import { createPublicKey, randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { FakePlayState } from '../dev/google/fake-play-developer-api.ts';
import type { SubscriptionPurchaseV2, VoidedPurchase } from '../ingest/google/play-developer-api.ts';
import { catalogOf } from './catalog.ts';
import { lines, runningSubledgerUrl, type CliIo } from './io.ts';

/**
 * `subledger google-dev`: play Google Play on a laptop. `serve` runs a fake Play Developer
 * API (with its OAuth token endpoint) and publishes the push signer's key as Google's JWKS,
 * on one loopback port; the other commands change a purchase in that fake and post a
 * signed Pub/Sub push about it to a running Subledger, which asks the fake for the state,
 * as it would ask Google. Subscriptions last as long as for Google's license testers (a
 * month is 5 minutes).
 *
 * The keys stay in the dev directory (under .data, ignored by git); the purchases live in
 * the `serve` process.
 */
const PUSH_AUDIENCE = 'subledger-google-dev';
const PUSH_SERVICE_ACCOUNT = 'play-push@subledger-dev.iam.gserviceaccount.com';
const API_SERVICE_ACCOUNT = 'subledger-play@subledger-dev.iam.gserviceaccount.com';
const PUSH_SIGNER_FILE = 'push-signer.jwk.json';
const SERVICE_ACCOUNT_FILE = 'service-account.json';
const DEFAULT_DIR = path.join('.data', 'google-dev');
const DEFAULT_PORT = '8095';

/** Renewal periods of license testers: https://developer.android.com/google/play/billing/test#renewals */
const TEST_PERIOD_MS: Record<string, number> = {
  P1W: 5 * 60_000,
  P1M: 5 * 60_000,
  P3M: 10 * 60_000,
  P6M: 15 * 60_000,
  P1Y: 30 * 60_000,
};

/** https://developer.android.com/google/play/billing/rtdn-reference#sub */
const SUBSCRIPTION_RENEWED = 2;
const SUBSCRIPTION_CANCELED = 3;
const SUBSCRIPTION_PURCHASED = 4;

interface DevOptions {
  readonly dir: string;
  readonly url: string;
  readonly port: string;
}

export function registerGoogleDevCommands(program: Command, io: CliIo): void {
  const { out } = lines(io);
  const dev = program
    .command('google-dev')
    .description('Act as Google Play locally: a fake Play Developer API, signed pushes to a running Subledger')
    .option('--dir <dir>', 'where the keys are kept', DEFAULT_DIR)
    .option('--url <url>', 'the running Subledger ($SUBLEDGER_URL when set)', runningSubledgerUrl(io))
    .option(
      '--port <port>',
      'the port of the fake Google: init writes it into the keys and the URLs it prints; the other commands take it from the keys',
      DEFAULT_PORT,
    );
  const options = () => dev.opts<DevOptions>();
  const portGiven = () => dev.getOptionValueSource('port') === 'cli';
  // One program runs one command: the key file is read once for it.
  let serviceAccount: Promise<ServiceAccount | undefined> | undefined;
  const readServiceAccount = () => (serviceAccount ??= readServiceAccountFile(options().dir));
  /**
   * Where the fake Google listens: the port init wrote into the service account's
   * token_uri (Subledger gets its access tokens there), so that serve and the others
   * agree with the keys and the environment init printed; --port only where it agrees.
   */
  const googleUrl = async () => {
    const written = initPort(await readServiceAccount());
    const port = portGiven() ? options().port : (written ?? DEFAULT_PORT);
    if (written !== undefined && port !== written) {
      throw new Error(
        `The keys in ${options().dir} are for a fake Google on port ${written}: leave --port out, or run "subledger google-dev --port ${port} init" again (and restart Subledger with what it prints)`,
      );
    }
    return `http://127.0.0.1:${port}/`;
  };

  dev
    .command('init')
    .description('Create the push signer and service account keys; print how to start Subledger with them')
    .action(async () => {
      const { dir, port } = options();
      // Every URL init writes or prints names --port (the keys already there do not count).
      const rootUrl = `http://127.0.0.1:${port}/`;
      await mkdir(dir, { recursive: true });
      const [{ writePushSignerKey }, { writeTestServiceAccountKey }] = await Promise.all([
        import('../dev/google/push-signer.ts'),
        import('../dev/google/fake-play-developer-api.ts'),
      ]);
      await writePushSignerKey(path.join(dir, PUSH_SIGNER_FILE));
      const key = await writeTestServiceAccountKey({
        dir,
        tokenUri: `${rootUrl}token`,
        clientEmail: API_SERVICE_ACCOUNT,
        fileName: SERVICE_ACCOUNT_FILE,
      });
      const dirOption = dir === DEFAULT_DIR ? '' : ` --dir ${dir}`;
      out(`Keys written to ${dir}. Run the fake Google:`);
      out(`  npx subledger google-dev serve --port ${port}${dirOption}`);
      out('Start Subledger with this environment:');
      const env = {
        GOOGLE_PUSH_AUDIENCE: PUSH_AUDIENCE,
        GOOGLE_PUSH_SERVICE_ACCOUNT: PUSH_SERVICE_ACCOUNT,
        GOOGLE_OIDC_JWKS_URL: `${rootUrl}oauth2/v3/certs`,
        GOOGLE_SERVICE_ACCOUNT_KEY_FILE: key.keyFile,
        GOOGLE_PLAY_API_URL: rootUrl,
      };
      for (const [name, value] of Object.entries(env)) out(`  ${name}=${value} \\`);
      out('  npm start');
    });

  dev
    .command('serve')
    .description('Run the fake Play Developer API and the push keys (JWKS) on the port init chose, until interrupted')
    .action(async () => {
      const { dir } = options();
      const signer = await loadSigner(dir);
      const account = await readServiceAccount();
      if (!account) throw new Error(`No service account key in ${dir}: run "subledger google-dev init" first`);
      const packageName = await playPackageName(io);
      const { startFakePlayDeveloperApi } = await import('../dev/google/fake-play-developer-api.ts');
      const fake = await startFakePlayDeveloperApi({
        packageName,
        port: Number(new URL(await googleUrl()).port),
        pageSize: 1000, // Google's
        pushJwks: signer.jwks,
        devEndpoints: true,
      });
      fake.trustServiceAccount(account.client_email, createPublicKey(account.private_key));
      out(`Fake Google Play for ${packageName} at ${fake.rootUrl}; Ctrl-C stops it.`);
      // Both listeners go once either signal came: a later Ctrl-C ends the process as usual.
      const stopped = new AbortController();
      await Promise.race([
        once(process, 'SIGINT', { signal: stopped.signal }),
        once(process, 'SIGTERM', { signal: stopped.signal }),
      ]);
      stopped.abort();
      await fake.close();
    });

  dev
    .command('buy')
    .description('A customer subscribes: a new active subscription, and SUBSCRIPTION_PURCHASED')
    .argument('<appUserId>', 'the app user (sent as the obfuscatedExternalAccountId)')
    .option('--product <productId>', 'our catalog product id, a subscription', 'premium_monthly')
    .action(async (appUserId: string, { product: productId }: { product: string }) => {
      const { storeProductId, periodMs } = await subscriptionProduct(io, { productId });
      const purchaseToken = `google-dev.${randomBytes(24).toString('base64url')}`;
      const orderId = `GPA.${randomInt(1000, 10_000)}-${randomInt(1000, 10_000)}-${randomInt(1000, 10_000)}-${randomInt(10_000, 100_000)}`;
      const now = Date.now();
      await putSubscription(purchaseToken, {
        kind: 'androidpublisher#subscriptionPurchaseV2',
        regionCode: 'US',
        startTime: new Date(now).toISOString(),
        subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
        acknowledgementState: 'ACKNOWLEDGEMENT_STATE_PENDING',
        externalAccountIdentifiers: { obfuscatedExternalAccountId: appUserId },
        testPurchase: {}, // a license tester's
        lineItems: [
          {
            productId: storeProductId,
            expiryTime: new Date(now + periodMs).toISOString(),
            latestSuccessfulOrderId: orderId,
            autoRenewingPlan: { autoRenewEnabled: true },
          },
        ],
      });
      await notifySubscription(purchaseToken, SUBSCRIPTION_PURCHASED, 'SUBSCRIPTION_PURCHASED');
    });

  dev
    .command('renew')
    .description('The next period of a subscription is paid: SUBSCRIPTION_RENEWED')
    .argument('<purchaseToken>')
    .action(async (purchaseToken: string) => {
      const subscription = await existing(purchaseToken);
      const item = subscription.lineItems![0]!;
      const { periodMs } = await subscriptionProduct(io, { storeProductId: item.productId! });
      // Google numbers renewal orders after the first: GPA.1234-…..0, ..1, …
      const [first, renewal] = item.latestSuccessfulOrderId!.split('..');
      const orderId = `${first}..${renewal === undefined ? 0 : Number(renewal) + 1}`;
      await putSubscription(purchaseToken, {
        ...subscription,
        subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE',
        lineItems: [
          {
            ...item,
            expiryTime: new Date(Date.parse(item.expiryTime!) + periodMs).toISOString(),
            latestSuccessfulOrderId: orderId,
            autoRenewingPlan: { ...item.autoRenewingPlan, autoRenewEnabled: true },
          },
        ],
      });
      await notifySubscription(purchaseToken, SUBSCRIPTION_RENEWED, 'SUBSCRIPTION_RENEWED');
    });

  dev
    .command('cancel')
    .description('The customer cancels; access lasts to the end of the period: SUBSCRIPTION_CANCELED')
    .argument('<purchaseToken>')
    .action(async (purchaseToken: string) => {
      const subscription = await existing(purchaseToken);
      await putSubscription(purchaseToken, {
        ...subscription,
        subscriptionState: 'SUBSCRIPTION_STATE_CANCELED',
        canceledStateContext: { userInitiatedCancellation: { cancelTime: new Date().toISOString() } },
        lineItems: subscription.lineItems!.map((item) => ({ ...item, autoRenewingPlan: { autoRenewEnabled: false } })),
      });
      await notifySubscription(purchaseToken, SUBSCRIPTION_CANCELED, 'SUBSCRIPTION_CANCELED');
    });

  dev
    .command('refund')
    .description(
      'The current order is refunded and the subscription ends: voidedPurchaseNotification, then SUBSCRIPTION_REVOKED',
    )
    .argument('<purchaseToken>')
    .action(async (purchaseToken: string) => {
      const subscription = await existing(purchaseToken);
      const now = Date.now();
      const voided: VoidedPurchase = {
        kind: 'androidpublisher#voidedPurchase',
        purchaseToken,
        orderId: subscription.lineItems![0]!.latestSuccessfulOrderId!,
        voidedTimeMillis: String(now),
        voidedSource: 1, // the developer
        voidedReason: 0, // other
      };
      await fakeGoogle('POST', 'voided', [voided]);
      await putSubscription(purchaseToken, {
        ...subscription,
        subscriptionState: 'SUBSCRIPTION_STATE_EXPIRED',
        lineItems: subscription.lineItems!.map((item) => ({
          ...item,
          expiryTime: new Date(now).toISOString(),
          autoRenewingPlan: { autoRenewEnabled: false },
        })),
      });
      await notify(purchaseToken, 'voidedPurchaseNotification', {
        // productType 1: a subscription; refundType 1: the whole order.
        voidedPurchaseNotification: { purchaseToken, orderId: voided.orderId, productType: 1, refundType: 1 },
      });
      // Refunded with the entitlement removed, as the Play Console offers: the whole
      // subscription ends now, a renewal already charged included.
      await notifySubscription(purchaseToken, 12, 'SUBSCRIPTION_REVOKED');
    });

  dev
    .command('list')
    .description('The subscriptions the running fake Google holds')
    .action(async () => {
      for (const [token, s] of Object.entries((await state()).subscriptions)) {
        const item = s.lineItems?.[0];
        const user = s.externalAccountIdentifiers?.obfuscatedExternalAccountId ?? '-';
        out(`${token}\t${user}\t${item?.productId}\t${s.subscriptionState}\tuntil ${item?.expiryTime}`);
      }
    });

  async function fakeGoogle(method: 'GET' | 'PUT' | 'POST', devPath: string, body?: unknown): Promise<Response> {
    const google = await googleUrl();
    const url = `${google}dev/${devPath}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch {
      throw new Error(`No fake Google at ${google}: run "subledger google-dev serve" first`);
    }
    if (!response.ok) throw new Error(`The fake Google answered ${response.status}: ${await response.text()}`);
    return response;
  }

  async function state(): Promise<FakePlayState> {
    return (await (await fakeGoogle('GET', 'state')).json()) as FakePlayState;
  }

  async function putSubscription(purchaseToken: string, subscription: SubscriptionPurchaseV2): Promise<void> {
    await fakeGoogle('PUT', `subscriptions/${encodeURIComponent(purchaseToken)}`, subscription);
  }

  async function existing(purchaseToken: string): Promise<SubscriptionPurchaseV2> {
    const subscription = (await state()).subscriptions[purchaseToken];
    if (!subscription) throw new Error(`No google-dev subscription ${purchaseToken}; see "subledger google-dev list"`);
    return subscription;
  }

  async function notifySubscription(purchaseToken: string, notificationType: number, label: string): Promise<void> {
    const subscriptionId = (await existing(purchaseToken)).lineItems![0]!.productId;
    await notify(purchaseToken, label, {
      subscriptionNotification: { version: '1.0', notificationType, purchaseToken, subscriptionId },
    });
  }

  /** Posts a developer notification to Subledger as Pub/Sub pushes it. */
  async function notify(purchaseToken: string, label: string, notification: object): Promise<void> {
    const { dir, url } = options();
    const signer = await loadSigner(dir);
    const { packageName } = await state();
    const { pushBody } = await import('../dev/google/test-push.ts');
    const body = pushBody({ version: '1.0', packageName, eventTimeMillis: String(Date.now()), ...notification });
    const response = await fetch(`${url}/v1/webhooks/google`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await signer.token()}` },
      body: JSON.stringify(body),
    });
    const answer = await response.text();
    if (!response.ok) throw new Error(`Subledger answered ${response.status}: ${answer}`);
    out(`${label} for ${purchaseToken}: ${answer}`);
  }
}

async function loadSigner(dir: string) {
  const { loadPushSigner } = await import('../dev/google/push-signer.ts');
  try {
    const file = path.join(dir, PUSH_SIGNER_FILE);
    return await loadPushSigner(file, { audience: PUSH_AUDIENCE, email: PUSH_SERVICE_ACCOUNT });
  } catch {
    throw new Error(`No push signer key in ${dir}: run "subledger google-dev init" first`);
  }
}

/** The parts of the service account key init wrote that google-dev reads. */
interface ServiceAccount {
  readonly client_email: string;
  readonly private_key: string;
  readonly token_uri: string;
}

/** The service account key init wrote; undefined before init. */
async function readServiceAccountFile(dir: string): Promise<ServiceAccount | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, SERVICE_ACCOUNT_FILE), 'utf8')) as ServiceAccount;
  } catch {
    return undefined;
  }
}

/** The port init wrote into the service account's token_uri; undefined before init. */
function initPort(account: ServiceAccount | undefined): string | undefined {
  return account && (new URL(account.token_uri).port || '80');
}

/** The fake holds one app's purchases: the catalog's first with a Play package. */
async function playPackageName(io: CliIo): Promise<string> {
  const catalog = await catalogOf(io);
  const packageName = catalog.apps.find((app) => app.playStore)?.playStore?.packageName;
  if (!packageName) throw new Error('The catalog has no app with a playStore.packageName');
  return packageName;
}

/** A subscription of the catalog, by our product id or its Play product id. */
async function subscriptionProduct(io: CliIo, by: { productId: string } | { storeProductId: string }) {
  const catalog = await catalogOf(io);
  const product = catalog.products.find((p) =>
    'productId' in by ? p.id === by.productId : p.storeProductIds.play_store === by.storeProductId,
  );
  if (!product?.storeProductIds.play_store || product.type !== 'auto_renewable') {
    throw new Error(`The catalog has no Play subscription "${'productId' in by ? by.productId : by.storeProductId}"`);
  }
  return {
    storeProductId: product.storeProductIds.play_store,
    periodMs: TEST_PERIOD_MS[product.duration ?? 'P1M'] ?? 5 * 60_000,
  };
}
