import { ConfigError } from '../config/config.ts';
import { cli } from './subledger.ts';

// Exit codes: 0 done, 1 failed, 2 bad configuration.
try {
  await cli().parseAsync(process.argv);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `subledger: ${(error as Error).message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
