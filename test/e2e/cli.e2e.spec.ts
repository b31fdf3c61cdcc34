import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import type { CliResult } from '../support/cli.ts';

/*
 * The real bin/subledger.js, as an operator runs it: a process of its own, its output and
 * its exit code. Every command's behaviour is tested in this process (test/cli); this is
 * the one test of the program around them.
 */
const run = promisify(execFile);
let db: TestDatabase;

async function subledger(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/subledger.js', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

describe('bin/subledger.js', () => {
  it('prints its help, runs a command on the database, and exits 0, 1 or 2', async () => {
    const help = await subledger(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: subledger \[options\] \[command\]\n/);
    expect(help.stdout).toContain('rebuild-projections [options]');

    expect(await subledger(['unknown-products'], { DATABASE_URL: db.url })).toEqual({
      code: 0,
      stdout: 'Every purchased product is in the catalog.\n',
      stderr: '',
    });

    const missing = await subledger(['refold'], { DATABASE_URL: db.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument 'appUserId'");

    const badConfiguration = await subledger(['unknown-products'], { DATABASE_URL: db.url, LOG_LEVEL: 'chatty' });
    expect(badConfiguration.code).toBe(2);
    expect(badConfiguration.stderr).toContain('LOG_LEVEL');
  });
});
