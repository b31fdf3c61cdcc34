import { randomInt } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { AppleTestSigner } from '../dev/apple/test-signer.ts';
import { catalogOf } from './catalog.ts';
import { lines, runningSubledgerUrl, type CliIo } from './io.ts';

/**
 * `subledger apple-dev`: play the App Store on a laptop. A local test CA (with Apple's
 * certificate markers) signs notifications the way the App Store does, and they are
 * posted to a running Subledger that trusts that CA. Subscriptions last as long as in
 * Apple's sandbox (a month is 5 minutes), so renewals and expiries can be watched.
 *
 * The CA's private key stays in the dev directory (under .data, ignored by git).
 */
interface DevPurchase {
  readonly bundleId: string;
  readonly appAppleId?: number;
  readonly appUserId: string;
  readonly productId: string;
  readonly type: 'Auto-Renewable Subscription' | 'Non-Consumable';
  /** Start of each period so far (ms); the last is the current one. */
  readonly periods: number[];
  readonly periodMs?: number;
}
interface DevState {
  readonly purchases: Record<string, DevPurchase>;
}

/** Apple's sandbox renewal rates: https://developer.apple.com/help/app-store-connect/test-in-app-purchases/overview-of-testing-in-sandbox */
const SANDBOX_PERIOD_MS: Record<string, number> = {
  P1W: 3 * 60_000,
  P1M: 5 * 60_000,
  P2M: 10 * 60_000,
  P3M: 15 * 60_000,
  P6M: 30 * 60_000,
  P1Y: 60 * 60_000,
};

export function registerAppleDevCommands(program: Command, io: CliIo): void {
  const { out } = lines(io);
  const dev = program
    .command('apple-dev')
    .description('Act as the App Store locally: a test CA, signed notifications, posted to a running Subledger')
    .option('--dir <dir>', 'where the test CA and purchases are kept', path.join('.data', 'apple-dev'))
    .option('--url <url>', 'the running Subledger ($SUBLEDGER_URL when set)', runningSubledgerUrl(io));

  dev
    .command('init')
    .description('Create the local test CA; print how to start Subledger trusting it')
    .action(async () => {
      const { dir } = dev.opts<{ dir: string }>();
      await mkdir(dir, { recursive: true });
      const { createAppleTestCa } = await import('../dev/apple/test-signer.ts');
      const ca = await createAppleTestCa({ name: 'Subledger apple-dev' });
      await writeFile(path.join(dir, 'root.pem'), ca.rootPem);
      await writeFile(path.join(dir, 'signer.json'), JSON.stringify(await ca.signer.export()), { mode: 0o600 });
      await saveState(dir, { purchases: {} });
      out(`Test CA written to ${dir}. Start Subledger trusting it (and Apple's root):`);
      out(`  APPLE_TRUSTED_ROOTS=certs/apple/AppleRootCA-G3.cer,${path.join(dir, 'root.pem')} npm start`);
    });

  dev
    .command('buy')
    .description('A customer buys a product: SUBSCRIBED/INITIAL_BUY, or ONE_TIME_CHARGE for a one-time product')
    .requiredOption('--user <appUserId>', 'the app user (sent as the appAccountToken)')
    .option('--product <productId>', 'our catalog product id', 'premium_monthly')
    .action(async (options: { user: string; product: string }) => {
      const { app, product } = await catalogProduct(io, options.product);
      const subscription = product.type === 'auto_renewable';
      const originalTransactionId = String(2_000_000_000_000_000 + randomInt(1e9));
      const purchase: DevPurchase = {
        bundleId: app.appStore!.bundleId,
        ...(app.appStore!.appAppleId !== undefined && { appAppleId: app.appStore!.appAppleId }),
        appUserId: options.user,
        productId: product.storeProductIds.app_store!,
        type: subscription ? 'Auto-Renewable Subscription' : 'Non-Consumable',
        periods: [Date.now()],
        ...(subscription && { periodMs: SANDBOX_PERIOD_MS[product.duration ?? 'P1M'] ?? 5 * 60_000 }),
      };
      await post(originalTransactionId, purchase, subscription ? 'SUBSCRIBED' : 'ONE_TIME_CHARGE', {
        subtype: subscription ? 'INITIAL_BUY' : undefined,
      });
    });

  dev
    .command('renew')
    .description('The next period of a subscription is paid: DID_RENEW')
    .argument('<originalTransactionId>')
    .action(async (id: string) => {
      const purchase = await existing(id);
      const last = purchase.periods.at(-1)!;
      await post(id, { ...purchase, periods: [...purchase.periods, last + purchase.periodMs!] }, 'DID_RENEW');
    });

  dev
    .command('refund')
    .description('Apple refunds the period running now (or the one-time purchase): REFUND')
    .argument('<originalTransactionId>')
    .action(async (id: string) => {
      const purchase = await existing(id);
      // A renewal already charged for a period yet to begin is another transaction: the
      // refund is of the one running now.
      const now = Date.now();
      const running = Math.max(
        0,
        purchase.periods.findLastIndex((start) => start <= now),
      );
      await post(id, purchase, 'REFUND', { revokedAt: now, period: running });
    });

  dev
    .command('cancel')
    .description('The customer turns auto-renew off: DID_CHANGE_RENEWAL_STATUS/AUTO_RENEW_DISABLED')
    .argument('<originalTransactionId>')
    .action(async (id: string) => {
      await post(id, await existing(id), 'DID_CHANGE_RENEWAL_STATUS', {
        subtype: 'AUTO_RENEW_DISABLED',
        autoRenew: false,
      });
    });

  dev
    .command('list')
    .description('The purchases made with apple-dev')
    .action(async () => {
      const { purchases } = await loadState(dev.opts<{ dir: string }>().dir);
      for (const [id, p] of Object.entries(purchases)) {
        out(`${id}\t${p.appUserId}\t${p.productId}\t${p.periods.length} period(s)`);
      }
    });

  async function post(
    originalTransactionId: string,
    purchase: DevPurchase,
    type: string,
    options: { subtype?: string | undefined; revokedAt?: number; autoRenew?: boolean; period?: number } = {},
  ): Promise<void> {
    const { dir, url } = dev.opts<{ dir: string; url: string }>();
    const signer = await loadSigner(dir);
    const { signNotification } = await import('../dev/apple/test-notifications.ts');
    // The transaction the notification is about: the latest period, unless told which.
    const n = options.period ?? purchase.periods.length - 1;
    const periodStart = purchase.periods[n]!;
    const signedPayload = await signNotification(signer, {
      type,
      ...(options.subtype && { subtype: options.subtype }),
      signedDate: Date.now(),
      bundleId: purchase.bundleId,
      ...(purchase.appAppleId !== undefined && { appAppleId: purchase.appAppleId }),
      transaction: {
        originalTransactionId,
        transactionId: n === 0 ? originalTransactionId : `${originalTransactionId}${n}`,
        productId: purchase.productId,
        type: purchase.type,
        purchaseDate: periodStart,
        originalPurchaseDate: purchase.periods[0],
        expiresDate: purchase.periodMs ? periodStart + purchase.periodMs : undefined,
        appAccountToken: purchase.appUserId,
        ...(options.revokedAt && { revocationDate: options.revokedAt, revocationReason: 0 }),
      },
      renewalInfo: purchase.periodMs ? { autoRenewStatus: options.autoRenew === false ? 0 : 1 } : false,
    });
    const response = await fetch(`${url}/v1/webhooks/apple`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ signedPayload }),
    });
    const answer = await response.text();
    if (!response.ok) throw new Error(`Subledger answered ${response.status}: ${answer}`);
    const state = await loadState(dir);
    await saveState(dir, { purchases: { ...state.purchases, [originalTransactionId]: purchase } });
    out(`${type}${options.subtype ? `/${options.subtype}` : ''} for ${originalTransactionId}: ${answer}`);
  }

  async function existing(originalTransactionId: string): Promise<DevPurchase> {
    const purchase = (await loadState(dev.opts<{ dir: string }>().dir)).purchases[originalTransactionId];
    if (!purchase) throw new Error(`No apple-dev purchase ${originalTransactionId}; see "subledger apple-dev list"`);
    return purchase;
  }
}

async function catalogProduct(io: CliIo, productId: string) {
  const catalog = await catalogOf(io);
  const product = catalog.products.find((p) => p.id === productId);
  const app = catalog.apps.find((a) => a.id === product?.appId);
  if (!product?.storeProductIds.app_store || !app?.appStore) {
    throw new Error(`The catalog has no App Store product "${productId}"`);
  }
  return { app, product };
}

async function loadSigner(dir: string): Promise<AppleTestSigner> {
  const { importAppleTestSigner } = await import('../dev/apple/test-signer.ts');
  try {
    return await importAppleTestSigner(JSON.parse(await readFile(path.join(dir, 'signer.json'), 'utf8')));
  } catch {
    throw new Error(`No test CA in ${dir}: run "subledger apple-dev init" first`);
  }
}

async function loadState(dir: string): Promise<DevState> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'purchases.json'), 'utf8')) as DevState;
  } catch {
    return { purchases: {} };
  }
}

function saveState(dir: string, state: DevState): Promise<void> {
  return writeFile(path.join(dir, 'purchases.json'), JSON.stringify(state, null, 2));
}
