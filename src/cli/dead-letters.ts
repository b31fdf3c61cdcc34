import type { Command } from 'commander';
import type { DeadLetter } from '../intake/intake-queue.ts';
import { intakeQueueOf } from '../intake/intake-queue-of.ts';
import { lines, operatorOf, type CliIo } from './io.ts';
import { withCliServices } from './services.ts';
import { textTable } from './table.ts';

/**
 * `subledger dead-letters`: the notifications that could not be processed, with the reason,
 * and `retry` to put one back in the intake queue once its cause is fixed. A running
 * service's worker picks it up.
 */
export function registerDeadLetterCommands(program: Command, io: CliIo): void {
  const { out } = lines(io);
  const deadLetters = program
    .command('dead-letters')
    .description('List intake messages that failed for good, or put one back in the queue');

  deadLetters
    .command('list', { isDefault: true })
    .description('List dead letters, the most recent failure first (the default)')
    .option('--limit <n>', 'how many at most', '50')
    .option('--json', 'print JSON')
    .action((options: { limit: string; json?: boolean }) =>
      withCliServices(io, async ({ pool, config }) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new Error('--limit must be a whole number above 0');
        const letters = await (await intakeQueueOf(config.intake.queue, pool)).deadLetters({ limit });
        if (options.json) {
          out(JSON.stringify(letters, null, 2));
          return;
        }
        if (letters.length === 0) out('No dead letters.');
        else out(table(letters));
      }),
    );

  deadLetters
    .command('retry')
    .description('Put a dead letter back in the intake queue for a fresh set of attempts')
    .argument('<messageId>', 'as listed')
    .option('--json', 'print JSON')
    .action((messageId: string, options: { json?: boolean }) =>
      withCliServices(io, async ({ pool, config, logger }) => {
        if (!(await (await intakeQueueOf(config.intake.queue, pool)).retryDeadLetter(messageId))) {
          throw new Error(`No dead letter ${messageId}`);
        }
        logger.info({ messageId, staff: operatorOf(io) }, 'dead letter put back in the intake queue');
        if (options.json) out(JSON.stringify({ messageId, status: 'queued' }));
        else out(`Queued ${messageId} again; a running service processes it.`);
      }),
    );
}

function table(letters: readonly DeadLetter[]): string {
  const rows = [
    ['MESSAGE', 'FAILED AT', 'KIND', 'ATTEMPTS', 'ORDERING KEY', 'REASON'],
    ...letters.map((l) => [
      l.messageId,
      l.failedAt.toISOString(),
      l.kind,
      String(l.attempts),
      l.orderingKey,
      l.reason.replace(/\s+/g, ' '),
    ]),
  ];
  return textTable(rows);
}
