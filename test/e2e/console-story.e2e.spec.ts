import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { inBrowser, launchBrowser, openConsole, screenshot, searchCustomer } from '../support/console-browser.ts';
import { MINUTE, sandboxStory } from '../support/sandbox-story.ts';
import { readable } from '../support/purchase-facts.ts';

/*
 * The support console tells a sandbox customer's story in Chromium: the timeline grouped by
 * the notification that caused each fact, the chart on a minutes axis, the purchases, the
 * store's document decoded, and the actions (grant and its end, entitlements at a moment,
 * reconcile, the webhook deliveries, a transfer). Each view is pictured for the support guide (npm run docs:screenshots).
 */
const START = Date.now() - 12 * MINUTE;
let harness: AppleHarness;
let browser: Browser | undefined;
let admin: string;
let endpointId: string;
let page: Page;
const pageErrors: Error[] = [];

beforeAll(async () => {
  harness = await startAppleHarness();
  admin = (await new ApiKeys(harness.db.pool).create('support: sam', 'admin')).secret;
  const endpoints = new WebhookEndpoints(harness.db.pool, systemClock, { allowPrivate: true });
  endpointId = (await endpoints.create({ url: 'http://127.0.0.1:9/hooks', description: 'the CRM' })).endpoint.id;
  await sandboxStory(harness, 'nora', '7000000001', START);
  browser = await launchBrowser();
});
/** One tab for the whole story, on nora, opened by the first test that needs it. */
beforeEach(async () => {
  if (!browser || page) return;
  page = await openConsole(browser, harness.subledger.url, admin, pageErrors);
  await searchCustomer(page, 'nora');
});
afterAll(async () => {
  await browser?.close();
  await harness?.stop();
});
afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

const groups = () => page.locator('#timeline > li');
const texts = (selector: string) => page.locator(selector).evaluateAll((nodes) => nodes.map((n) => n.textContent));
const shot = (name: string, selector: string) => screenshot(page, name, selector);

describe('the support console tells a customer’s story', () => {
  inBrowser('groups the timeline by the notification that caused it, folding facts that changed nothing', async () => {
    expect(await texts('#timeline > li .cause')).toEqual([
      'App Store SUBSCRIBED/INITIAL_BUY',
      'App Store DID_RENEW',
      'App Store DID_FAIL_TO_RENEW/GRACE_PERIOD',
    ]);
    const renewal = groups().nth(1);
    const visible = await renewal
      .locator(':scope > ul.facts > li')
      .evaluateAll((facts) => facts.map((f) => f.getAttribute('data-type')));
    expect(visible).toEqual(['SubscriptionRenewed']);
    const answer = await fetch(`${harness.subledger.url}/v1/admin/customers/nora/history`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const history = (await answer.json()) as { entries: { cause: { type: string }; effects: unknown[] }[] };
    const folded = history.entries.filter((e) => e.cause.type === 'DID_RENEW' && !e.effects.length).length;
    expect(folded).toBeGreaterThan(0);
    const fold = renewal.locator('details.unchanged > summary');
    expect(await fold.textContent()).toBe(`show ${folded} facts that changed nothing`);
    expect(await renewal.locator('details.unchanged li[data-type]').first().isVisible()).toBe(false);
    expect(await renewal.textContent()).toContain(
      `premium active until ${readable(new Date(START + 10 * MINUTE).toISOString())}`,
    );
    await shot('timeline-grouped', '#timeline');
    await fold.click();
    expect(await renewal.locator('details.unchanged li[data-type]').first().isVisible()).toBe(true);
    await shot('timeline-unfolded', '#timeline > li:nth-child(2)');
  });

  inBrowser('draws five-minute sandbox periods on a minutes axis, with now, and the grace period marked', async () => {
    const chart = page.getByRole('img', { name: 'Entitlement periods over time' });
    expect(await chart.locator('text.axis-unit').textContent()).toBe('minutes (UTC)');
    const ticks = await chart.locator('text.axis:not(.axis-unit)').evaluateAll((n) => n.map((t) => t.textContent));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    for (const tick of ticks) expect(tick).toMatch(/^(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2}$/);
    expect(ticks[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/); // the first says which day
    expect(await chart.locator('text.now-label').textContent()).toMatch(/^now \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
    expect(await chart.locator('.mark-grace title').textContent()).toBe('grace period');
    const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
    expect(await chart.locator('desc').textContent()).toContain(`premium from ${minute(START)}`);
    expect(await chart.locator('desc').textContent()).toContain(`grace period at ${minute(START + 10 * MINUTE)}`);
    await shot('chart-sandbox-minutes', '#chart');
  });

  inBrowser('lists the purchases with their transactions, prices, environment and owner', async () => {
    const row = page.locator('#purchases tr[data-purchase="7000000001"]');
    const text = await row.textContent();
    expect(text).toContain('app_store (sandbox)');
    expect(text).toContain('premium_monthly');
    expect(text).toContain('this customer');
    expect(await texts('#purchases tr[data-purchase="7000000001"] li[data-transaction]')).toEqual([
      `Transaction 7000000001-1: ${shownTime(START)} → ${shownTime(START + 5 * MINUTE)} · normal · 9.99 USD`,
      `Transaction 7000000001-2: ${shownTime(START + 5 * MINUTE)} → ${shownTime(START + 10 * MINUTE)} · normal · 9.99 USD`,
    ]);
    expect(await texts('#purchases tr[data-purchase="7000000001"] .owners li')).toEqual([
      `${shownTime(START)}: nora (app account token)`,
    ]);
    await shot('purchases', '#purchases');
  });

  inBrowser('shows the signed notification behind a group, verbatim and decoded', async () => {
    await groups().nth(0).getByRole('button', { name: 'Show document' }).click();
    const view = page.locator('#document');
    await view.getByRole('heading', { name: 'Document apple.notification.v2' }).waitFor();
    expect(await view.locator('[data-field="notification"]').textContent()).toBe('SUBSCRIBED/INITIAL_BUY');
    const decoded = JSON.parse((await view.locator('pre.decoded').textContent())!);
    expect(decoded.header.alg).toBe('ES256');
    expect(decoded.payload.notificationType).toBe('SUBSCRIBED');
    expect(decoded.payload.data.signedTransactionInfo.payload).toMatchObject({
      transactionId: '7000000001-1',
      price: 9990,
      currency: 'USD',
    });
    expect(await view.locator('pre.verbatim').textContent()).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    await shot('document-decoded', '#document');
    await view.getByRole('button', { name: 'Close document' }).click();
  });

  inBrowser('shows entitlements at a moment as known then and as known now', async () => {
    // Every notification was recorded just now: at the second period, Subledger knew nothing yet.
    await page.getByLabel('Moment (RFC 3339)').fill(new Date(START + 7 * MINUTE).toISOString());
    await page.getByRole('button', { name: 'Show entitlements' }).click();
    await page.locator('#known-now tr[data-entitlement="premium"]').waitFor();
    expect(await page.locator('#known-then').textContent()).toContain('No entitlements.');
    const now = await page.locator('#known-now tr[data-entitlement="premium"]').textContent();
    expect(now).toContain('active');
    expect(now).toContain(shownTime(START + 10 * MINUTE));
    expect(now).toContain('differs');
    await shot('entitlements-at-moment', '#moment-result');
  });

  inBrowser('gives a grant and ends it from the purchases table', async () => {
    await page.getByLabel('Product id').fill('premium_monthly');
    await page.getByLabel('Days').fill('7');
    await page.locator('#grant').getByLabel('Reason').fill('apology for the outage');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    const granted = await page.getByText(/^Granted premium until/).textContent();
    const grantId = /\(grant (.+)\)\.$/.exec(granted!)![1]!;
    await page.getByLabel(`Reason to end grant ${grantId}`).fill('given twice');
    await page.locator(`#purchases tr[data-purchase="${grantId}"]`).getByRole('button', { name: 'End grant' }).click();
    await page.getByText(`Grant ${grantId} ended.`).waitFor();
    expect(await page.locator(`#purchases tr[data-purchase="${grantId}"]`).textContent()).toMatch(
      /revoked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(other\)/,
    );
    const causes = await texts('#timeline > li .cause');
    expect(causes.at(-2)).toMatch(/^Grant by support: sam \(.+\): apology for the outage$/);
    expect(causes.at(-1)).toMatch(/^Grant ended by support: sam \(.+\): given twice$/);
    expect(await page.getByRole('alert').textContent()).toBe('');
  });

  inBrowser('reconciles with the stores, and says what each store was asked', async () => {
    await page.getByRole('button', { name: 'Reconcile with the stores' }).click();
    await page.getByText(/^Asked the stores about \d+ purchase\(s\):$/).waitFor();
    expect(await texts('#reconcile-result li')).toContain(
      'app_store (sandbox) 7000000001: not asked: no App Store Server API key',
    );
    await shot('reconcile', '#reconcile-result');
  });

  inBrowser('lists the webhook deliveries about the customer', async () => {
    await expect
      .poll(async () => {
        await page.getByRole('button', { name: 'Load deliveries' }).click();
        return page.locator('#customer-deliveries tr[data-delivery]').count();
      })
      .toBeGreaterThan(0);
    const rows = await texts('#customer-deliveries tr[data-delivery]');
    for (const row of rows) expect(row).toContain(endpointId);
    await shot('customer-deliveries', '#customer-deliveries');
  });

  inBrowser('transfers every purchase to another app user, who then owns them', async () => {
    await page.getByLabel('Move every purchase to app user').fill('nora-new');
    await page.locator('#transfer').getByLabel('Reason').fill('account merge');
    await page.getByRole('button', { name: 'Transfer' }).click();
    await page.getByText(/^Moved 2 purchase\(s\) from nora to nora-new\.$/).waitFor();
    const row = page.locator('#purchases tr[data-purchase="7000000001"]');
    expect(await row.locator('td').nth(1).textContent()).toBe('nora-new');
    expect(await texts('#purchases tr[data-purchase="7000000001"] .owners li')).toEqual([
      `${shownTime(START)}: nora (app account token)`,
      expect.stringMatching(/: nora-new \(support transfer\) from nora by support: sam \(.+\): account merge$/),
    ]);
    expect((await texts('#timeline > li .cause')).at(-1)).toMatch(/^Transfer by support: sam \(.+\): account merge$/);
    await screenshot(page, 'customer-page');
  });
});

/** How the console writes a time. */
function shownTime(ms: number) {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}
