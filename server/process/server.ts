import { setupWorker } from '@socket.io/sticky';
import { createServer, STATUS_CODES, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Admission } from '../access/admission';
import { Credentials } from '../access/credentials';
import { JwtVerifier, type VerifierTiming } from '../access/jwt';
import { joinCluster, type WorkerSlot } from '../cluster/setup';
import type { Config } from '../config';
import { createApi } from '../edge/api';
import { createApp } from '../edge/app';
import { guardRequests } from '../edge/http-guard';
import { guardPendingConnections, pendingLimits } from '../edge/pending-connections';
import { createUpgradeRouter } from '../edge/upgrade';
import { PublishHook } from '../hooks/publish-hook';
import { checkInternals, MissingInternalsError } from '../internals/check';
import { FloodControl } from '../room/flood-control';
import { Rooms } from '../room/rooms';
import { SessionCore } from '../session/core';
import { Moderation } from '../session/moderation';
import { MemoryBanStore } from '../store/memory-ban-store';
import { openBanStore } from '../store/open-ban-store';
import { MemoryStore } from '../store/memory-store';
import type { MessageStore } from '../store/message-store';
import { openLocalStore } from '../store/open-store';
import { WebhookDelivery } from '../hooks/webhook-delivery';
import { ExpiryClock } from '../support/expiry-clock';
import { createLogger } from '../support/logger';
import { Metrics } from '../support/metrics';
import { TLS_DEFAULTS } from '../tls';
import { RawTransport } from '../transports/raw/transport';
import type { ChatServer } from '../transports/socketio/server';
import { SocketIoTransport } from '../transports/socketio/transport';
import { drain } from './drain';
import { baseUrl, listen } from './listen';
import { Shutdown } from './shutdown';
import { stickyLoadReport } from './sticky-load';

export { baseUrl } from './listen';

export interface RunningServer {
  /** Base URL for clients, e.g. http://127.0.0.1:8000 */
  readonly url: string;
  readonly port: number;
  /** The Socket.IO server, for code that builds on this one. */
  readonly io: ChatServer;
  /** Graceful shutdown (see startServer). Safe to call more than once. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** How long clients get to close cleanly, after the drain told the last one, before they are cut. */
  shutdownGraceMs?: number;
  /** Set in a worker of WORKERS > 1: the primary owns the port and hands connections over. */
  worker?: WorkerSlot;
  /** JWKS fetch timeout, cooldown, ages and backoff (tests shorten them). */
  jwks?: VerifierTiming;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/**
 * Builds the whole server from a validated Config and listens. Reads no environment.
 *
 * Each part adds its shutdown step where it is built, so they run in this order: refuse
 * new connections and report not ready; stop announcing departures; tell the other nodes
 * this one is leaving; drain: send each client what is pending and close it, one by one
 * over DRAIN_MS (raw: 1012; Socket.IO: its transport, so that it reconnects elsewhere);
 * cut whatever is left after the grace period; let go of Redis; wait for the HTTP server
 * to be done.
 */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const internals = checkInternals();
  if (internals.required.length > 0) throw new MissingInternalsError(internals.required);
  if (config.socketIoFastPath && internals.fastPath.length > 0) {
    logger.warn({ missing: internals.fastPath.join(', ') }, "Socket.IO fast path off: this engine.io or ws lacks an internal it needs; every packet takes engine.io's path");
  }
  const graceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const worker = options.worker;
  const shutdown = new Shutdown(logger);
  let ready = true;
  let clusterConnected = () => true;

  // With Redis the shared store comes with the cluster (below, before any room opens);
  // until then the rooms hold an empty memory store that nothing uses.
  const store: MessageStore =
    config.redisUrl === null
      ? openLocalStore(config, logger, worker === undefined ? undefined : { offset: worker.index, stride: worker.count })
      : new MemoryStore({ keep: config.historyKeep, maxBytes: config.historyBytes });
  const rooms = new Rooms({ ...config, store, logger });
  // With Redis the shared bans come with the cluster (useStore, below); memory until then.
  const moderation = new Moderation({ store: config.redisUrl === null ? openBanStore(config, logger) : new MemoryBanStore(), rooms, logger });
  const admission = new Admission(config);
  const floodControl = new FloodControl({
    rateLimit: config.rateLimit,
    rateBurst: config.rateBurst,
    byteRate: config.rateLimitBytes,
    byteBurst: config.rateBurstBytes,
  });
  // The transports exist only below; the gauges read them when scraped.
  const metrics = new Metrics({ raw: (): number => raw.size, 'socket.io': (): number => socketIo.size }, () => rooms.size);
  const httpServer = createHttpServer(
    config,
    logger,
    createApp({
      isReady: () => ready && clusterConnected() && store.problem() === null,
      notReadyText: () => (!ready ? 'shutting down' : !clusterConnected() ? 'redis unreachable' : 'store unavailable'),
      metrics,
      metricsToken: config.metricsToken,
      // The rooms' store is read through `rooms`: with Redis it is replaced below.
      api: createApi({
        apiKey: config.apiKey,
        rateLimit: config.apiRateLimit,
        maxMessageBytes: config.maxMessageBytes,
        rooms,
        moderation,
        metrics,
        logger,
      }),
    }),
  );
  const httpClosed = stopHttp(httpServer, shutdown, () => {
    ready = false;
    core.closing = true;
    logger.info({ raw: raw.size, socketIo: socketIo.size }, 'shutting down');
  });
  shutdown.add('silence notices', () => rooms.silenceNotices());

  // With JWT: one verifier for both kinds of client, and one clock that ends each
  // connection when its token expires.
  const jwt = config.jwt === null ? null : new JwtVerifier(config.jwt, options.jwks, logger);
  const credentials = new Credentials(config.chatToken, jwt, metrics, logger);
  const expiry = new ExpiryClock();
  shutdown.add('stop token expiry', () => expiry.stop());
  // PUBLISH_HOOK_URL: asked about each client message before it is stored (null: nothing asked).
  const publishHook = PublishHook.fromConfig(config, metrics, logger);
  const core = new SessionCore({ rooms, admission, credentials, floodControl, expiry, maxMessageBytes: config.maxMessageBytes, moderation, publishHook, metrics, logger });
  const raw: RawTransport = new RawTransport({ core, config, ...(worker === undefined ? {} : { loadReport: stickyLoadReport }) });
  const socketIo: SocketIoTransport = new SocketIoTransport({
    core,
    config,
    fastPath: config.socketIoFastPath && internals.fastPath.length === 0,
    httpServer,
    localOnly: () => !clusterConnected(),
    clustered: config.redisUrl !== null || (worker?.count ?? 1) > 1,
  });
  // After Socket.IO, whose engine wrapped the 'request' listeners it found: the guard
  // must see every request, the engine's long-polling ones included.
  guardRequests(httpServer, { allowedHosts: config.allowedHosts, trustProxy: config.trustProxy, metrics, logger });

  const cluster = await joinCluster(config, socketIo.io, rooms, logger, worker);
  if (cluster !== null) {
    rooms.joinCluster(cluster.bus, cluster.store);
    if (cluster.bans !== undefined) moderation.useStore(cluster.bans);
    clusterConnected = cluster.membership.connected;
    // Without a drain (DRAIN_MS=0) every client ends at once: the other nodes hear so
    // first, in one message, not from whatever snapshot goes out while they close.
    if (config.drainMs === 0) shutdown.add('leave the cluster', () => cluster.membership.leave());
  }
  await moderation.start();
  const webhooks = WebhookDelivery.fromConfig(config, rooms.store.events, metrics, logger);
  webhooks?.start();
  shutdown.add('drain clients', () => drain([...raw.endings(), ...socketIo.endings()], config.drainMs, graceMs));
  shutdown.add('cut the rest', () => {
    raw.cut();
    return socketIo.cut();
  });
  // After a drain: meanwhile the other nodes hear this one's presence as its clients go
  // (notices are silenced here, its snapshots are not), not all of them gone at its start.
  if (cluster !== null && config.drainMs > 0) shutdown.add('leave the cluster', () => cluster.membership.leave());
  // While the store is open: the lease is given up, and what is left waits in the outbox.
  if (webhooks !== null) shutdown.add('stop webhook delivery', () => webhooks.stop());
  shutdown.add('stop checking bans', () => moderation.close());
  // After the clients, before the store: the hook's requests under way end (PUBLISH_HOOK_ON_ERROR decides their messages).
  if (publishHook !== null) shutdown.add('close the publish hook', () => publishHook.close());
  if (cluster !== null) shutdown.add('close the cluster', () => cluster.membership.close());
  shutdown.add('close rooms', () => rooms.close());
  // Last: whatever was sent until the clients closed is committed first.
  shutdown.add('close the store', () => store.close());

  // engine.io's attach() added an 'upgrade' listener of its own; it answers a refused
  // handshake with 400 and leaves other paths to a timeout. One router owns every
  // upgrade instead (host -> 421, path -> 404 or 400, origin -> 403) and hands
  // Socket.IO's to the engine.
  httpServer.removeAllListeners('upgrade');
  httpServer.on(
    'upgrade',
    createUpgradeRouter(
      {
        raw: (req, socket, head, url, room) => raw.handleUpgrade(req, socket, head, url, room),
        socketIo: (req, socket, head, url) => socketIo.handleUpgrade(req, socket, head, url),
      },
      config.allowedOrigins,
      config.allowedHosts,
      metrics,
      logger,
    ),
  );
  answerBadRequests(httpServer, config.tls !== null, logger);
  // Last: it marks a connection a client in front of every 'request' and 'upgrade' listener.
  guardPendingConnections(httpServer, { ...pendingLimits(config), tls: config.tls !== null, until: 'request', metrics, logger });
  shutdown.add('wait for HTTP', async () => {
    httpServer.closeAllConnections();
    await httpClosed();
    logger.info('closed');
  });

  // A worker of WORKERS > 1 does not listen: the primary owns the port and passes each
  // connection here (sticky by session id).
  let port = config.port;
  if (worker === undefined) {
    port = await listen(httpServer, config.port, config.host);
    logger.info({ url: baseUrl(config.host, port, config.tls !== null), port, host: config.host, tls: config.tls !== null }, 'listening');
  } else {
    setupWorker(socketIo.io);
  }
  return { url: baseUrl(config.host, port, config.tls !== null), port, io: socketIo.io, close: () => shutdown.run() };
}

/**
 * Plain HTTP, or with TLS_CERT/TLS_KEY an HTTPS server: the same requests and upgrades
 * (https.Server is an http.Server that does a TLS handshake first), so everything after
 * this sees one kind of server. A client that fails the handshake, such as a plain
 * http:// request, is dropped without an answer; one that has not finished it within
 * HANDSHAKE_TIMEOUT_MS is dropped by edge/pending-connections.ts (Node's own
 * handshakeTimeout, 120 s without progress, stays as a backstop behind it).
 */
function createHttpServer(config: Config, logger: Logger, app: RequestListener): HttpServer {
  if (config.tls === null) return createServer(app);
  const server = createHttpsServer({ ...TLS_DEFAULTS, cert: config.tls.cert, key: config.tls.key }, app);
  server.on('tlsClientError', (err: Error & { code?: string }, socket) => {
    logger.debug({ err: err.message, code: err.code, ip: socket.remoteAddress }, 'TLS handshake failed');
  });
  return server;
}

/**
 * The HTTP server's first shutdown step: no new connections, idle ones closed. Returns
 * what the last step waits for (a worker's server never listened: nothing to wait for).
 */
function stopHttp(httpServer: HttpServer, shutdown: Shutdown, first: () => void): () => Promise<void> {
  let closed: Promise<void> = Promise.resolve();
  shutdown.add('refuse new connections', () => {
    first();
    if (httpServer.listening) closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
  });
  return () => closed;
}

/** Statuses for the errors of Node's parser and timers that are not a plain 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431, // too many or too large headers
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408, // headersTimeout or requestTimeout passed
};

/**
 * A request Node's parser refuses gets a status, not a silent close, and the connection is
 * closed once it is sent. Over TLS, https.Server also reports a failed or timed-out
 * handshake as 'clientError': such a connection cannot carry an answer (one written to
 * it would wait for a handshake that never completes) and is dropped.
 */
function answerBadRequests(httpServer: HttpServer, tls: boolean, logger: Logger): void {
  const handshaken = new WeakSet<Duplex>();
  if (tls) httpServer.on('secureConnection', (socket: Duplex) => handshaken.add(socket));
  httpServer.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    logger.debug({ err: err.message, code: err.code }, 'bad HTTP request');
    if (!socket.writable || (tls && !handshaken.has(socket))) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`);
    socket.once('finish', () => socket.destroy());
  });
}
