import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect, it } from 'vitest';

/*
 * The support console in a real browser: Debian's Chromium driven by playwright-core.
 * Where there is no Chromium, the browser tests are skipped with the reason.
 */
const CHROMIUM = '/usr/bin/chromium';
export const browserAvailable = existsSync(CHROMIUM);
const NO_BROWSER = `Support console browser tests skipped: no Chromium at ${CHROMIUM}`;
if (!browserAvailable) console.warn(NO_BROWSER);

/** A browser test, skipped with the reason where there is no Chromium. */
export const inBrowser = (name: string, test: () => Promise<void>) =>
  it(name, (ctx) => (browserAvailable ? test() : ctx.skip(NO_BROWSER)));

export async function launchBrowser(): Promise<Browser | undefined> {
  if (!browserAvailable) return undefined;
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A fresh tab on the console at `url`, logged in with `credential`; page errors go to `errors`. */
export async function openConsole(browser: Browser, url: string, credential: string, errors: Error[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${url}/console`);
  await page.getByLabel('Admin API key').fill(credential);
  await page.getByRole('button', { name: 'Use key' }).click();
  await expect.poll(() => page.locator('#key-status').textContent()).toBe('Key set for this tab.');
  return page;
}

export async function searchCustomer(page: Page, appUserId: string) {
  await page.getByLabel('App user id').fill(appUserId);
  await page.getByLabel('App user id').press('Enter'); // keyboard alone is enough
  await page.getByRole('heading', { name: `Customer ${appUserId}` }).waitFor();
}

/**
 * Keeps a picture of a view (an element, or the whole page) for the support guide, when
 * `CONSOLE_SCREENSHOTS` names a folder: `npm run docs:screenshots` writes docs/images/console.
 */
export async function screenshot(page: Page, name: string, selector?: string): Promise<void> {
  const dir = process.env.CONSOLE_SCREENSHOTS;
  if (!dir) return;
  const path = `${dir}/${name}.png`;
  await (selector ? page.locator(selector).screenshot({ path }) : page.screenshot({ path, fullPage: true }));
}
