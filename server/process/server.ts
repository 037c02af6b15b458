import { setupWorker } from '@socket.io/sticky';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Admission } from '../edge/admission';
import { createApp } from '../edge/app';
import { FloodControl } from '../room/flood-control';
import { joinCluster, type WorkerSlot } from '../cluster/setup';
import { stickyLoadReport } from './sticky-load';
import type { Config } from '../config';
import { Hub } from '../room/room';
import { guardRequests } from '../edge/http-guard';
import { createLogger } from '../support/logger';
import { Metrics, type TransportName } from '../support/metrics';
import { RawTransport } from '../transports/raw';
import { SocketIoTransport, type ChatServer } from '../transports/socketio';
import { createUpgradeRouter } from '../edge/upgrade';

export interface RunningServer {
  /** Base URL for clients, e.g. http://127.0.0.1:8000 */
  readonly url: string;
  readonly port: number;
  /** The Socket.IO server, for code that builds on this one. */
  readonly io: ChatServer;
  /** Graceful shutdown; see `close` below. Safe to call more than once. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** How long clients get to close cleanly on shutdown before they are cut. */
  shutdownGraceMs?: number;
  /** Set in a worker of WORKERS > 1: the primary owns the port and hands connections over. */
  worker?: WorkerSlot;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/** The URL clients use for a server listening on `host`:`port`. */
export function baseUrl(host: string, port: number): string {
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** Builds the whole server from a validated Config and listens. Reads no environment. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  // A worker of WORKERS > 1 does not listen: the primary owns the port.
  const listens = options.worker === undefined;
  let ready = true;
  let clusterConnected = () => true;

  const hub = new Hub({ historySize: config.historySize, historyBytes: config.historyBytes, logger });
  const admission = new Admission(config);
  const floodControl = new FloodControl(config.rateLimit, config.rateBurst);
  // The transports exist only below; the gauge reads them when scraped.
  const sizes: Record<TransportName, () => number> = { raw: () => raw.size, 'socket.io': () => socketIo.size };
  const metrics = new Metrics(sizes);
  const httpServer = createServer(
    createApp({
      isReady: () => ready && clusterConnected(),
      notReadyText: () => (ready ? 'redis unreachable' : 'shutting down'),
      metrics,
      metricsToken: config.metricsToken,
    }),
  );

  const raw = new RawTransport({ hub, config, admission, floodControl, metrics, logger, ...(listens ? {} : { loadReport: stickyLoadReport }) });
  const socketIo = new SocketIoTransport({
    hub,
    httpServer,
    config,
    admission,
    floodControl,
    metrics,
    logger,
    localOnly: () => !clusterConnected(),
  });
  hub.addTransport(raw);
  hub.addTransport(socketIo);
  // After Socket.IO, whose engine wrapped the 'request' listeners it found: the guard
  // must see every request, the engine's long-polling ones included.
  guardRequests(httpServer, { allowedHosts: config.allowedHosts, metrics, logger });
  const cluster = await joinCluster(config, socketIo.io, hub, logger, options.worker);
  if (cluster !== null) clusterConnected = cluster.connected;

  // engine.io's attach() added an 'upgrade' listener of its own; it answers a refused
  // handshake with 400 and leaves other paths to a timeout. One router owns every
  // upgrade instead (origin -> 403, unknown path -> 404) and hands Socket.IO's to the engine.
  httpServer.removeAllListeners('upgrade');
  httpServer.on(
    'upgrade',
    createUpgradeRouter(
      {
        raw: (req, socket, head, url) => raw.handleUpgrade(req, socket, head, url),
        socketIo: (req, socket, head, url) => socketIo.handleUpgrade(req, socket, head, url),
      },
      config.allowedOrigins,
      config.allowedHosts,
      metrics,
      logger,
    ),
  );
  httpServer.on('clientError', (err: Error & { code?: string }, socket) => {
    logger.debug({ err: err.message, code: err.code }, 'bad HTTP request');
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // Node's parser refuses requests with too many or too large headers with this code.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  });

  if (listens) {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } else {
    // The primary accepts each connection and passes it here (sticky by session id).
    setupWorker(socketIo.io);
  }
  const port = listens ? (httpServer.address() as AddressInfo).port : config.port;
  const url = baseUrl(config.host, port);
  if (listens) logger.info({ url, port, host: config.host }, 'listening');

  let closing: Promise<void> | undefined;
  /**
   * Shutdown in order: refuse new connections and report not ready; stop announcing
   * departures; send every raw client what is pending and close it with 1001; close
   * every Socket.IO connection after its pending packets so clients reconnect elsewhere;
   * cut whatever is left after the grace period; wait for the HTTP server to be done.
   */
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      logger.info({ raw: raw.size, socketIo: socketIo.size }, 'shutting down');
      // A worker's server never listened: there is nothing to wait for.
      const httpClosed = listens ? new Promise<void>((resolve) => httpServer.close(() => resolve())) : Promise.resolve();
      httpServer.closeIdleConnections();
      hub.silenceNotices();
      cluster?.leave();
      await Promise.all([raw.close(graceMs), socketIo.close(graceMs)]);
      await cluster?.close();
      httpServer.closeAllConnections();
      await httpClosed;
      logger.info('closed');
    })();
    return closing;
  };

  return { url, port, io: socketIo.io, close };
}
