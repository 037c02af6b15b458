import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { openBanStore } from '../store/open-ban-store';
import { openLocalStore } from '../store/open-store';
import { startServer } from './server';
import { startPrimary, WORKER_INDEX_VARIABLE, WORKER_READY } from './primary';

/** What this process runs, once it runs. */
export interface RunningProcess {
  /**
   * `primary` owns the port and forks the workers (WORKERS > 1); `worker` is one of them
   * (its IPC channel belongs to the primary); `single` is the whole server on its own.
   */
  readonly role: 'primary' | 'worker' | 'single';
  /** Where clients connect (in a worker: the primary's address as configured). */
  readonly url: string;
  readonly port: number;
  /** Every process of this server: this one, and under a primary its workers too. */
  pids(): number[];
  /** Graceful shutdown (a primary stops its workers and waits for them). */
  close(): Promise<void>;
}

/**
 * Starts what this process is for: with WORKERS > 1, the primary when run directly and a
 * worker when forked by it; otherwise a single server. Reads no environment beyond the
 * slot node:cluster's primary gives each worker.
 */
export async function startProcess(config: Config, logger: Logger): Promise<RunningProcess> {
  if (config.workers > 1 && cluster.isPrimary) {
    // Each worker opens the shared database; a DATA_DIR that cannot be used is said once,
    // here, rather than by every worker as it dies.
    if (config.redisUrl === null && config.dataDir !== null) {
      await openLocalStore(config, logger).close();
      await openBanStore(config, logger).close();
    }
    const primary = await startPrimary(config, logger);
    return { role: 'primary', url: primary.url, port: primary.port, pids: () => [process.pid, ...primary.workerPids()], close: () => primary.stop() };
  }
  if (cluster.isWorker) {
    const worker = { index: Number(process.env[WORKER_INDEX_VARIABLE]), count: config.workers };
    const server = await startServer(config, { logger, worker });
    process.send?.({ type: WORKER_READY });
    return { role: 'worker', url: server.url, port: server.port, pids: () => [process.pid], close: () => server.close() };
  }
  const server = await startServer(config, { logger });
  return { role: 'single', url: server.url, port: server.port, pids: () => [process.pid], close: () => server.close() };
}
