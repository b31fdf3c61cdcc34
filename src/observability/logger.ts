import { pino, type DestinationStream, type LogFn, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/** JSON lines for log collectors, or readable lines for a terminal. */
export type LogFormat = 'json' | 'pretty';

/** Writes to standard output unless given a `destination` (tests). */
export function createLogger(level: string, format: LogFormat = 'json', destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'subledger' }, hooks: { logMethod: requestLogsAtDebug } };
  if (format === 'pretty') {
    // In this thread and synchronous, so a line logged just before `process.exit` is written.
    return pino(
      options,
      pinoPretty({ destination: destination ?? 1, sync: true, ignore: 'service', singleLine: true }),
    );
  }
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The lines fastify logs at info for every request it receives and answers. At thousands
 * of requests a second they would be most of the log, so they are debug here. A request
 * that fails is still logged at error, by fastify ('request errored') and by our problem
 * handlers.
 */
const requestLifecycleMessages = new Set(['incoming request', 'request completed']);

function requestLogsAtDebug(this: Logger, args: Parameters<LogFn>, method: LogFn, level: number): void {
  if (level === this.levels.values.info && requestLifecycleMessages.has(args[1] as string)) {
    this.debug.apply(this, args);
    return;
  }
  method.apply(this, args);
}

/** For tests and tools that must stay quiet. */
export const silentLogger: Logger = pino({ level: 'silent' });
