import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/** JSON lines for log collectors, or readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Writes to standard output unless given a `destination` (tests). */
export function createLogger(level: string, format: LogFormat = 'json', destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'subledger' } };
  if (format === 'pretty') {
    // Loaded only here: JSON logging (production) never needs it. Required, so that this stays synchronous.
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    // In this thread and synchronous, so a line logged just before `process.exit` is written.
    return pino(
      options,
      pinoPretty({ destination: destination ?? 1, sync: true, ignore: 'service', singleLine: true }),
    );
  }
  return destination ? pino(options, destination) : pino(options);
}

/** For tests and tools that must stay quiet. */
export const silentLogger: Logger = pino({ level: 'silent' });
