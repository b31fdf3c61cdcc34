import { CommanderError } from 'commander';
import type { CliIo } from './io.ts';
import { cli } from './subledger.ts';

/**
 * Runs `subledger <argv>` (the arguments after the program's name) with this environment
 * and output, and returns its exit code: 0 done, 1 failed, 2 bad configuration. It leaves
 * nothing behind in the process (listeners, pools, servers), so a test may run it again
 * and again; `main.ts` exits with the code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await cli(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    // Help (0), and usage errors commander has already explained on stderr (1).
    if (error instanceof CommanderError) return error.exitCode;
    const { ConfigError } = await import('../config/config.ts');
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      return 2;
    }
    io.stderr(`subledger: ${(error as Error).message}\n`);
    return 1;
  }
}
