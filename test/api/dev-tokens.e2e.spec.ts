import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { startSubledger, type Subledger } from '../../src/runtime/subledger.ts';
import { runSubledger } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/* `subledger dev-token`: app-user tokens for a laptop, trusted only with AUTH_DEV_TOKENS=on. */
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
  const subledger = await startSubledger(loadConfig({ DATABASE_URL: db.url, PORT: '0', ...env }), silentLogger);
  running.push(subledger);
  return subledger;
}
const devToken = (appUserId: string, env: Record<string, string>) =>
  runSubledger(db.url, ['dev-token', appUserId], env);

describe('development tokens', () => {
  it('are minted by the CLI and let that app user in, where the service trusts them', async () => {
    const { code, stdout } = await devToken('alice', { AUTH_DEV_TOKENS: 'on' });
    expect(code).toBe(0);
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
    expect(await devToken('alice', {})).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('AUTH_DEV_TOKENS=on'),
    });
    expect(() => loadConfig({ AUTH_DEV_TOKENS: 'on', NODE_ENV: 'production' })).toThrow(/refused/);
  });
});
