/**
 * The command-line entry point: the only place that reads the environment, listens for
 * signals and exits. Exit codes: 0 after a clean shutdown, 1 when the server fails,
 * 2 when the configuration is invalid.
 */
import { startProcess } from './process/start-process';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './support/logger';

/** Far past the server's own grace period; reaching it means shutdown itself is stuck. */
const SHUTDOWN_DEADLINE_MS = 9_500;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = createLogger(config.logLevel);
  // WORKERS > 1: the primary owns the port and forks; each worker runs a whole server.
  const server = await startProcess(config, logger);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'signal received, shutting down');
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`chat server failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
