import { runCli } from '../../src/cli/run.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `subledger <args>` on a database, with these settings and no others from this
 * process's environment, in this process: what it prints and its exit code, as an
 * operator would see them. (`test/e2e/cli.e2e.spec.ts` runs the real bin/subledger.js.)
 */
export async function runSubledger(
  databaseUrl: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, ...env },
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}
