import { setupPrimary } from '@socket.io/cluster-adapter';
import { setupMaster } from '@socket.io/sticky';
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { guardPendingConnections, pendingLimits } from '../edge/pending-connections';
import { checkInternals, MissingInternalsError } from '../internals/check';
import { stopReadingWhatIsSent } from '../internals/node';
import { baseUrl } from './listen';

/** The environment variable that tells a forked worker its slot (set by the primary only). */
export const WORKER_INDEX_VARIABLE = 'CHAT_WORKER_INDEX';

/** What a worker sends the primary once its server is built and can take connections. */
export const WORKER_READY = 'chat:worker-ready';

export interface Primary {
  readonly url: string;
  readonly port: number;
  /** The workers running now (a replaced one appears once it has been forked). */
  workerPids(): number[];
  /** Forwards SIGTERM to every worker and resolves once all have exited. */
  stop(): Promise<void>;
}

/**
 * WORKERS > 1: this process owns the port and runs no chat itself. It forks the workers
 * and hands each incoming connection to one of them with @socket.io/sticky: a
 * long-polling client's requests carry its session id and always reach the worker that
 * holds the session; everything else (WebSockets of both kinds) goes to the worker with
 * the fewest clients. Without Redis the workers talk through this process
 * (@socket.io/cluster-adapter); with Redis they use it like separate nodes.
 * A worker that dies is replaced.
 */
export async function startPrimary(config: Config, logger: Logger): Promise<Primary> {
  const internals = checkInternals();
  if (internals.primary.length > 0) throw new MissingInternalsError(internals.primary);
  const httpServer = createServer();
  setupMaster(httpServer, { loadBalancingMethod: 'least-connection' });
  httpServer.on('connection', closeOnceEnded);
  // A connection waits here for its first bytes, which choose its worker; the worker
  // bounds the rest of its request head.
  guardPendingConnections(httpServer, { ...pendingLimits(config), tls: false, until: 'first-bytes', metrics: null, logger });
  cluster.on('fork', stopReadingWhatIsSent);
  if (config.redisUrl === null) setupPrimary();
  // Sticky passes the first bytes of each connection as a Buffer; the default JSON
  // serialization would turn it into an object.
  cluster.setupPrimary({ serialization: 'advanced' });

  let stopping = false;
  let started = false;
  const slots = new Map<Worker, number>();
  const fork = (index: number): Promise<void> => {
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(index) });
    slots.set(worker, index);
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if ((message as { type?: unknown } | null)?.type !== WORKER_READY) return;
        worker.off('message', onMessage);
        resolve();
      };
      worker.on('message', onMessage);
      // A worker that cannot start (its own error is on stderr) would only fail again.
      worker.once('exit', (code) => reject(new Error(`worker ${index} exited with code ${code} while starting`)));
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    const index = slots.get(worker);
    slots.delete(worker);
    if (stopping || !started || index === undefined) return;
    logger.error({ pid: worker.process.pid, code, signal, index }, 'worker died; starting another');
    fork(index).catch((err: unknown) => logger.error({ err }, 'replacement worker failed to start'));
  });

  try {
    await Promise.all(Array.from({ length: config.workers }, (_, index) => fork(index)));
  } catch (err) {
    stopping = true;
    for (const worker of slots.keys()) worker.process.kill('SIGTERM');
    throw err;
  }
  started = true;
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const url = baseUrl(config.host, port);
  logger.info({ url, port, host: config.host, workers: config.workers }, 'listening');

  return {
    url,
    port,
    workerPids: () => [...slots.keys()].flatMap((worker) => (worker.process.pid === undefined ? [] : [worker.process.pid])),
    async stop() {
      stopping = true;
      httpServer.close();
      const exits = [...slots.keys()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.process.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
    },
  };
}

/**
 * Sticky ends a connection it relays to a worker once the worker's answer ends, but keeps
 * reading it and passes on whatever comes next, which nobody would answer: once this
 * side is ended, the connection is closed.
 */
function closeOnceEnded(socket: Socket): void {
  socket.once('finish', () => socket.destroy());
}
