import { ConfigError, loadConfig } from './config/config.ts';
import { createLogger } from './observability/logger.ts';
import { startSubledger } from './runtime/subledger.ts';

// `npm start`: run Subledger until SIGINT/SIGTERM.
let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const logger = createLogger(config.logLevel);
try {
  const subledger = await startSubledger(config, logger);
  logger.info({ url: subledger.url, database: config.database.kind }, 'Subledger is running');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      logger.info({ signal }, 'shutting down');
      await subledger.stop();
      process.exit(0);
    });
  }
} catch (error) {
  logger.fatal({ err: error }, 'Subledger could not start');
  process.exit(1);
}
