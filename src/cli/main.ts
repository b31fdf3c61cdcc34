import { cli } from './subledger.ts';

try {
  await cli().parseAsync(process.argv);
} catch (error) {
  console.error(`subledger: ${(error as Error).message}`);
  process.exit(1);
}
