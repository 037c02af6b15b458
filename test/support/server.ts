import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/support/logger';
import { startServer, type RunningServer, type StartOptions } from '../../server/process/server';
import { onCleanup } from './cleanup';
import { freshDataDir } from './data-dir';

/**
 * Settings a whole test run may change from its environment, under every server it starts:
 * `SOCKETIO_FAST_PATH=off npm test` runs every test on engine.io's own path.
 */
export function fromTestEnvironment(): Record<string, string> {
  const fastPath = process.env.SOCKETIO_FAST_PATH;
  return fastPath === undefined ? {} : { SOCKETIO_FAST_PATH: fastPath };
}

/**
 * Starts the real server on an ephemeral loopback port with logs off, configured the way
 * main.ts would be from `env`. Every server started here is closed after each test.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<RunningServer> {
  const dataDir = env.DATA_DIR ?? freshDataDir();
  // Clients end at once on close unless the test drains (DRAIN_MS).
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DRAIN_MS: '0', ...fromTestEnvironment(), ...env, DATA_DIR: dataDir });
  const server = await startServer(config, {
    logger: createLogger(config.logLevel),
    shutdownGraceMs: 1_000,
    ...options,
  });
  onCleanup('servers', () => server.close());
  return server;
}
