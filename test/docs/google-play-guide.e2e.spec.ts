import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/free-port.ts';
import {
  startSubledgerProcess,
  startTsProcess,
  waitForHttp,
  type RunningProcess,
} from '../support/subledger-process.ts';

/*
 * docs/google-play.md's "Try Google Play without Google" walkthrough, step by step, with real
 * processes: `subledger google-dev init` writes the keys, `google-dev serve` stands in
 * for Google, Subledger is started with the printed environment, and a subscription is
 * bought, renewed and refunded through signed pushes.
 */
const run = promisify(execFile);
let db: TestDatabase;
let dir: string;
let base: string;
let googlePort: string;
let google: RunningProcess | undefined;
let service: RunningProcess | undefined;
let apiKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(path.join(tmpdir(), 'subledger-google-dev-'));
  base = `http://127.0.0.1:${await freePort()}`;
  googlePort = String(await freePort());
});
afterAll(async () => {
  await service?.stop();
  await google?.stop();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

// Only init is told the fake Google's port: the others take it from the keys init wrote.
const devOptions = () => ['google-dev', '--dir', dir, '--url', base];
async function googleDev(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/subledger.js', ...devOptions(), ...args], {
    env: { PATH: process.env.PATH ?? '' },
  });
  return stdout;
}
/** The `google-dev serve` command init printed, as its own process, so that a kill reaches it. */
const serveGoogle = (printed: string): RunningProcess => startTsProcess(['src/cli/main.ts', ...printed.split(' ')]);
async function premiumOf(appUserId: string) {
  const response = await fetch(`${base}/v1/customers/${appUserId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  const customer = (await response.json()) as {
    entitlements: Record<string, { active: boolean; expiresAt: string; environment: string; store: string }>;
  };
  return customer.entitlements.premium;
}

describe('the Google Play walkthrough with google-dev', () => {
  // Seven CLI runs and two servers starting.
  it('shows an entitlement appear, renew and get refunded', { timeout: 90_000 }, async () => {
    const init = await googleDev('--port', googlePort, 'init');
    const env = Object.fromEntries([...init.matchAll(/^\s+(GOOGLE_\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
    expect(env).toEqual({
      GOOGLE_PUSH_AUDIENCE: 'subledger-google-dev',
      GOOGLE_PUSH_SERVICE_ACCOUNT: 'play-push@subledger-dev.iam.gserviceaccount.com',
      GOOGLE_OIDC_JWKS_URL: `http://127.0.0.1:${googlePort}/oauth2/v3/certs`,
      GOOGLE_SERVICE_ACCOUNT_KEY_FILE: path.join(dir, 'service-account.json'),
      GOOGLE_PLAY_API_URL: `http://127.0.0.1:${googlePort}/`,
    });

    // The serve command init printed names the port it wrote into the keys and the environment.
    const serve = init.match(/^\s+npx subledger (google-dev serve .*)$/m)?.[1];
    expect(serve).toBe(`google-dev serve --port ${googlePort} --dir ${dir}`);
    const { token_uri } = JSON.parse(await readFile(env.GOOGLE_SERVICE_ACCOUNT_KEY_FILE!, 'utf8')) as {
      token_uri: string;
    };
    expect(token_uri).toBe(`http://127.0.0.1:${googlePort}/token`);
    google = serveGoogle(serve!);
    await waitForHttp(env.GOOGLE_OIDC_JWKS_URL!, google);
    service = startSubledgerProcess({ DATABASE_URL: db.url, PORT: new URL(base).port, LOG_LEVEL: 'warn', ...env });
    await waitForHttp(`${base}/health`, service);
    const created = await run(
      process.execPath,
      ['bin/subledger.js', 'api-keys', 'create', '--name', 'laptop', '--role', 'admin'],
      { env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url } },
    );
    apiKey = created.stdout.trim();
    expect(apiKey).toMatch(/^sl_/);

    const bought = await googleDev('buy', 'alice');
    const purchaseToken = bought.match(/^SUBSCRIPTION_PURCHASED for (\S+):/)?.[1];
    expect(bought).toContain('"status":"accepted"');
    const first = await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.active === true,
    );
    expect(first).toMatchObject({ active: true, store: 'play_store', environment: 'sandbox' });
    expect(await googleDev('list')).toContain(`${purchaseToken}\talice\tpremium_monthly\tSUBSCRIPTION_STATE_ACTIVE`);
    // Subledger asked the fake Google and acknowledged the purchase there, as it would with Google.
    const state = (await (await fetch(`${env.GOOGLE_PLAY_API_URL}dev/state`)).json()) as { acknowledgements: unknown };
    expect(state.acknowledgements).toContainEqual(expect.objectContaining({ purchaseToken }));

    await googleDev('renew', purchaseToken!);
    const renewed = await eventually(
      () => premiumOf('alice'),
      (premium) => premium?.expiresAt !== first!.expiresAt,
    );
    // A license tester's month is five minutes; the customer stays active throughout.
    expect(Date.parse(renewed!.expiresAt) - Date.parse(first!.expiresAt)).toBe(5 * 60_000);
    expect(renewed).toMatchObject({ active: true, willRenew: true, store: 'play_store' });

    await googleDev('refund', purchaseToken!);
    expect(
      await eventually(
        () => premiumOf('alice'),
        (premium) => premium?.active === false,
      ),
    ).toMatchObject({ active: false });

    expect(await google.stop()).toBe(0);
  });
});
