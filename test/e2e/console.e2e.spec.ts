import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.ts';
import type { PurchaseEvent } from '../../src/domain/purchase/events.ts';
import { recordPurchase } from '../../src/ingest/record-purchase.ts';
import { systemClock } from '../../src/runtime/system-clock.ts';
import { WebhookEndpoints } from '../../src/webhooks/webhook-endpoints.ts';
import { startAppleHarness, type AppleHarness } from '../support/apple-harness.ts';
import { appleKey, day, fact, period, readable, renewed, started } from '../support/purchase-facts.ts';
import { corruptAccessUntil } from '../support/read-model.ts';
import {
  inBrowser,
  launchBrowser,
  openConsole as open,
  screenshot,
  searchCustomer as search,
} from '../support/console-browser.ts';

/*
 * The support console in a real browser (Debian's Chromium, driven by playwright-core)
 * against a running Subledger: a staff member logs in with an admin key, looks a customer
 * up, repairs a corrupted read-model row with a replay, and grants an entitlement.
 */
let harness: AppleHarness;
let browser: Browser | undefined;
let admin: string;
const CUSTOMER = 'dora';
const key = appleKey('3000000001');
const stream = `purchase:app_store:production:${key.purchaseId}`;

beforeAll(async () => {
  harness = await startAppleHarness();
  admin = (await new ApiKeys(harness.db.pool).create('support: sam', 'admin')).secret;
  const record = (causationId: string, facts: PurchaseEvent[]) =>
    recordPurchase(harness.subledger.eventStore, key, { type: 'RecordStoreFacts', data: { facts } }, { causationId });
  await record('buy', [
    started(period('t1', 0, 30)),
    fact('PurchaseLinkedToAppUser', 0, { appUserId: CUSTOMER, via: 'app_account_token' }),
  ]);
  await record('renew', [renewed(period('t2', 30, 60))]);
  await record('refund', [fact('TransactionRefunded', 45, { transactionId: 't2', refundedAt: day(45) })]);
  await harness.processed();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await harness?.stop();
});

// An exception in the page fails the test that caused it.
const pageErrors: Error[] = [];
afterEach(() => {
  expect(pageErrors.splice(0)).toEqual([]);
});

/** A fresh tab on the console, logged in with `credential`. */
const openConsole = (credential = admin): Promise<Page> =>
  open(browser!, harness.subledger.url, credential, pageErrors);

const entitlementRow = (page: Page, id: string) => page.locator(`#entitlements tr[data-entitlement="${id}"]`);

describe('the support console', () => {
  it('is a page with its scripts, outside the API contract', async () => {
    const page = await fetch(`${harness.subledger.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const script = await fetch(`${harness.subledger.url}/console/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${harness.subledger.url}/console/app.css`)).status).toBe(200);
    expect((await fetch(`${harness.subledger.url}/console/..%2Fapi%2Fapp.ts`)).status).toBe(404);
    const document = (await (await fetch(`${harness.subledger.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(document.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
  });

  inBrowser('shows an API refusal in the alert area', async () => {
    const page = await openConsole('sl_not_a_key');
    await page.getByLabel('App user id').fill(CUSTOMER);
    await page.getByRole('button', { name: 'Search' }).click();
    // The customer and their history are asked for together: whichever refusal lands first is shown.
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(new RegExp(`GET /v1/(admin/)?customers/${CUSTOMER}[^:]*: 401`));
    expect(await page.locator('#customer').isHidden()).toBe(true);
    await page.close();
  });

  inBrowser('shows a customer’s entitlements, periods and timeline', async () => {
    const page = await openConsole();
    await search(page, CUSTOMER);
    const premium = entitlementRow(page, 'premium');
    expect(await premium.textContent()).toContain('inactive'); // refunded
    expect(await premium.textContent()).toContain('app_store (production)');

    // One group per cause: the purchase (with its link), the renewal, the refund.
    const timeline = page.locator('#timeline > li');
    expect(await timeline.evaluateAll((items) => items.map((item) => item.getAttribute('data-cause')))).toEqual([
      'buy',
      'renew',
      'refund',
    ]);
    const types = (group: number) =>
      timeline
        .nth(group)
        .locator(':scope > ul.facts > li')
        .evaluateAll((facts) => facts.map((f) => f.getAttribute('data-type')));
    expect(await types(0)).toEqual(['PurchaseLinkedToAppUser']); // the start alone gave no one access
    expect(await timeline.nth(0).locator('details.unchanged > summary').textContent()).toBe(
      'show 1 fact that changed nothing',
    );
    expect(await timeline.nth(0).textContent()).toContain(`premium active until ${readable(day(30))}`);
    expect(await timeline.nth(2).textContent()).toContain(`premium ended (access until ${readable(day(45))})`);
    const started = timeline.nth(0).locator('li[data-type="SubscriptionStarted"]');
    expect(await started.isVisible()).toBe(false);
    await timeline.nth(0).getByText('show 1 fact that changed nothing').click();
    await started.getByText('Event data').click();
    expect(await started.locator('pre').textContent()).toContain('"transactionId": "t1"');

    // One bar: from the link on day 0 to the refund on day 45.
    const chart = page.getByRole('img', { name: 'Entitlement periods over time' });
    expect(await chart.locator('rect.bar').count()).toBe(1);
    expect(await chart.locator('desc').textContent()).toBe(
      'premium from 2026-01-01 to 2026-02-15 (app_store); refund of t2 at 2026-02-15',
    );
    // Production periods of a month, seen from months later: an axis of calendar months.
    expect(await chart.locator('text.axis-unit').textContent()).toMatch(/^(months|years) \(UTC\)$/);
    const ticks = await chart.locator('text.axis:not(.axis-unit)').evaluateAll((n) => n.map((t) => t.textContent));
    for (const tick of ticks) expect(tick).toMatch(/^\d{4}(-\d{2})?$/);
    expect(await chart.locator('.mark-revoked title').textContent()).toBe('refund of t2');
    await screenshot(page, 'chart-production-months', '#chart');
    await page.close();
  });

  inBrowser('shows a corrupted row’s difference in a dry run, and repairs it when applied', async () => {
    await corruptAccessUntil(harness.db.pool, stream);
    harness.subledger.customers.invalidate(CUSTOMER);
    const page = await openConsole();
    await search(page, CUSTOMER);
    expect(await entitlementRow(page, 'premium').textContent()).toContain('active');
    expect(await entitlementRow(page, 'premium').textContent()).not.toContain('inactive');

    await page.getByLabel('Reason').first().fill('premium should have ended at the refund');
    await page.getByRole('button', { name: 'Replay (dry run)' }).click();
    const difference = page.locator('#replay-result tbody tr');
    await difference.waitFor();
    expect(await difference.locator('th').textContent()).toBe(`${stream}changed: accessUntil, state`);
    expect(await difference.locator('td').nth(0).textContent()).toContain('2099-01-01 00:00:00 UTC');
    expect(await difference.locator('td').nth(1).textContent()).toContain(readable(day(45)));
    const untouched = await harness.db.pool.query(`SELECT access_until FROM purchases WHERE stream_id = $1`, [stream]);
    expect(untouched.rows[0].access_until.toISOString()).toBe('2099-01-01T00:00:00.000Z');

    await page.getByRole('button', { name: 'Apply replay' }).click();
    await page.getByText('Replay applied: 1 purchase(s) rewritten.').waitFor();
    expect(await entitlementRow(page, 'premium').textContent()).toContain('inactive');
    await page.getByRole('button', { name: 'Replay (dry run)' }).click();
    await page.getByText(/^No differences/).waitFor();
    await page.close();
  });

  inBrowser('grants an entitlement, which then shows', async () => {
    const page = await openConsole();
    await search(page, 'ivy');
    expect(await page.locator('#entitlements').textContent()).toContain('No entitlements.');
    await page.getByLabel('Product id').fill('premium_monthly');
    await page.getByLabel('Days').fill('30');
    await page.locator('#grant').getByLabel('Reason').fill('apology for the outage');
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByText(/^Granted premium until/).waitFor();
    const premium = await entitlementRow(page, 'premium').textContent();
    expect(premium).toContain('active');
    expect(premium).toContain('promotional');
    expect(await page.locator('#timeline').textContent()).toContain('apology for the outage');
    await page.close();
  });

  inBrowser('lists dead letters, and puts one back in the intake queue', async () => {
    // A kind no handler takes: the worker dead-letters it at once.
    await harness.subledger.queue.enqueue({
      deduplicationId: 'test:console-unknown-kind',
      orderingKey: 'test:console',
      kind: 'test.unknown',
      document: { kind: 'test.unknown', contentType: 'application/json', body: '{}' },
    });
    await expect.poll(async () => (await harness.subledger.queue.deadLetters({ limit: 10 })).length).toBe(1);
    const page = await openConsole(); // logging in lists them
    const letter = page.locator('#dead-letters tr[data-message-id]');
    await letter.waitFor();
    expect(await letter.textContent()).toContain('No handler for messages of kind test.unknown');
    const messageId = await letter.getAttribute('data-message-id');
    await page.getByRole('button', { name: `Retry message ${messageId}` }).click();
    await page.getByText(`Message ${messageId} is back in the intake queue.`).waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('');
    await page.close();
  });

  inBrowser(
    'lists webhook endpoints and their deliveries, sends a test, retries one, and replays a customer (dry run)',
    async () => {
      // Saved where private receivers were allowed; this service sends to public addresses only,
      // so every attempt fails (and says why), which is what support staff come here to see.
      const endpoints = new WebhookEndpoints(harness.db.pool, systemClock, { allowPrivate: true });
      const { endpoint } = await endpoints.create({ url: 'http://127.0.0.1:9/hooks', description: 'the CRM' });
      const page = await openConsole();
      await page.getByRole('button', { name: 'Load endpoints' }).click();
      await page.locator(`#webhooks tr[data-endpoint="${endpoint.id}"]`).waitFor();

      await page.getByRole('button', { name: `Send a test event to ${endpoint.id}` }).click();
      await page.getByText(/^Test event evt_test_\w+ scheduled\.$/).waitFor();
      const delivery = page.locator('#deliveries tr[data-delivery]').first();
      // The attempt fails: reload until it shows.
      await expect
        .poll(async () => {
          await page.getByRole('button', { name: `Deliveries of ${endpoint.id}` }).click();
          return delivery.textContent();
        })
        .toMatch(/not a public address/);
      expect(await delivery.textContent()).toContain('TEST');
      const deliveryId = await delivery.getAttribute('data-delivery');
      await page.getByRole('button', { name: `Retry delivery ${deliveryId}` }).click();
      await page.getByText(`Delivery ${deliveryId} will be tried again now.`).waitFor();

      await page.getByLabel('Customer to replay').fill(CUSTOMER);
      await page.getByRole('button', { name: 'Replay', exact: true }).click();
      await page.getByText(/^Would send \d+ events\.$/).waitFor();
      expect(await page.locator('#webhook-replay-result li').first().textContent()).toContain(CUSTOMER);
      expect(await page.getByRole('alert').textContent()).toBe('');
      await page.close();
    },
  );
});
