import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { createLogger } from '../observability/logger.ts';
import { startSubledger, type Subledger } from './subledger.ts';

/** Past this, the exit goes on without waiting (the embedded PostgreSQL is still told to stop). */
const STOP_TIMEOUT_MS = 10_000;

/**
 * Runs Subledger, configured by `env`, until a signal (a terminal's Ctrl-C or hang-up,
 * SIGTERM) or an uncaught error, then stops what it started, the embedded PostgreSQL
 * included. Resolves with the exit code: 0 after a signal, 1 after a failure.
 */
export async function serve(env: NodeJS.ProcessEnv): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 1;
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  let exiting = false;
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (exit = resolve));

  async function stopAndExit(code: number): Promise<void> {
    exiting = true;
    setTimeout(() => {
      logger.error(`not stopped within ${STOP_TIMEOUT_MS / 1000} s: exiting anyway`);
      exit(code || 1);
    }, STOP_TIMEOUT_MS).unref();
    // Still starting: wait for it, then stop what it started (a failed start stopped its own).
    await (await starting.catch(() => undefined))?.stop();
    exit(code);
  }

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // One Ctrl-C under `npm start` arrives twice: from the terminal, and forwarded by npm.
      if (exiting) return;
      logger.info({ signal }, 'shutting down');
      void stopAndExit(0);
    });
  }
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.on(event, (error) => {
      logger.fatal({ err: error }, 'uncaught error: shutting down');
      if (!exiting) void stopAndExit(1);
    });
  }

  // Started before the handlers above can run (they run on later turns), and kept so that
  // they can stop it even while it is still starting.
  const starting: Promise<Subledger> = startSubledger(config, logger);
  try {
    const subledger = await starting;
    const { role, database } = config;
    logger.info(
      { url: subledger.url, role, does: ROLE_DESCRIPTIONS[role], database: database.kind },
      'Subledger is running',
    );
  } catch (error) {
    // startSubledger stopped what it had started.
    const known = startFailure(error, config);
    if (known) logger.fatal(known);
    else logger.fatal({ err: error }, 'Subledger could not start');
    return 1;
  }
  return exited;
}

const ROLE_DESCRIPTIONS: Record<Config['role'], string> = {
  all: 'accepting, processing and serving',
  api: 'accepting and serving; workers process',
  worker: 'processing; serving health and metrics only',
};

/** What to do about a start-up failure the user can fix: one line, naming the setting. */
function startFailure(error: unknown, { http }: Config): string | undefined {
  const { code, syscall } = (error ?? {}) as NodeJS.ErrnoException;
  if (syscall !== 'listen') return undefined;
  switch (code) {
    case 'EADDRINUSE':
      return `port ${http.port} is in use: set PORT to another port`;
    case 'EACCES':
      return `port ${http.port} needs privileges this process does not have: set PORT to 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `${http.host} is not an address of this machine: set HOST to one that is`;
    default:
      return undefined;
  }
}
