import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort } from '../support/free-port.ts';

/* `subledger dev-token`: app-user tokens for a laptop, trusted only with AUTH_DEV_TOKENS=on. */
const run = promisify(execFile);
let db: TestDatabase;
const running: Subledger[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await db?.drop();
});

async function start(env: Record<string, string>) {
  const subledger = await startSubledger(
    loadConfig({ DATABASE_URL: db.url, PORT: String(await freePort()), ...env }),
    silentLogger,
  );
  running.push(subledger);
  return subledger;
}
const devToken = async (appUserId: string, env: Record<string, string>) =>
  run(process.execPath, ['bin/subledger.js', 'dev-token', appUserId], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, ...env },
  });

describe('development tokens', () => {
  it('are minted by the CLI and let that app user in, where the service trusts them', async () => {
    const { stdout } = await devToken('alice', { AUTH_DEV_TOKENS: 'on' });
    const token = stdout.trim();
    const trusting = await start({ AUTH_DEV_TOKENS: 'on' });
    const get = (subledger: Subledger, user: string) =>
      fetch(`${subledger.url}/v1/customers/${user}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get(trusting, 'alice')).status).toBe(200);
    expect((await get(trusting, 'bob')).status).toBe(403);
    const strict = await start({});
    const refused = await get(strict, 'alice');
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: string }).code).toBe('token_invalid');
  });

  it('are refused by the CLI unless turned on, and never allowed in production', async () => {
    await expect(devToken('alice', {})).rejects.toMatchObject({
      stderr: expect.stringContaining('AUTH_DEV_TOKENS=on'),
    });
    expect(() => loadConfig({ AUTH_DEV_TOKENS: 'on', NODE_ENV: 'production' })).toThrow(/refused/);
  });
});
