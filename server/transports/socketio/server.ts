import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Server, type Socket } from 'socket.io';
import { clientAddress } from '../../access/client-address';
import { isOriginAllowed } from '../../access/origin';
import type { Identity } from '../../access/jwt';
import type { Config } from '../../config';
import { sessionById } from '../../internals/engine-io';
import {
  DEFAULT_ROOM,
  isRoomName,
  SOCKET_IO_PATH,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from '../../protocol';
import { wsErrorReason, type Metrics } from '../../support/metrics';
import { corkingWsEngine } from './corking-ws-engine';
import type { FastFrames } from './fast-path';

export interface SocketData {
  /** From the token shown when joining this namespace (JWT only). */
  identity?: Identity;
  /** The name it has in the room, once it is in (for code that builds on this server: `fetchSockets`). */
  name?: string;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type ChatNamespace = ReturnType<ChatServer['of']>;
export type { EngineConnection } from '../../internals/engine-io';
/** A dynamic namespace (socket.io's ParentNamespace, a class it does not export). */
export type ParentNamespace = ChatNamespace & { createChild(name: string): ChatNamespace };

/** The room a namespace stands for, or null for a name that is not a room's. */
export function roomOfNamespace(namespace: string): string | null {
  if (namespace === '/') return DEFAULT_ROOM;
  const name = namespace.slice(1);
  return namespace.startsWith('/') && isRoomName(name) ? name : null;
}

/** The namespaces of `room`: the lobby is `/` (the seed's `io.emit`) and `/lobby` alike. */
export function namespacesOf(room: string): readonly string[] {
  return room === DEFAULT_ROOM ? ['/', `/${DEFAULT_ROOM}`] : [`/${room}`];
}

/** How long a dropped client's session is kept for it (connection state recovery, Redis only). */
export const RECOVERY_WINDOW_MS = 2 * 60 * 1000;

/**
 * Room for the JSON encoding of a message of MAX_MESSAGE_BYTES (a control character is
 * six bytes escaped, `\u0001`) and the packet's own framing, as the HTTP API allows: a
 * `chat` between MAX_MESSAGE_BYTES and this gets a `too_large` ack; a packet larger than
 * this is refused by Engine.IO, which disconnects its sender.
 */
export function packetLimit(maxMessageBytes: number): number {
  return 6 * maxMessageBytes + 4096;
}

/**
 * How long an Engine.IO session may stay open without joining a namespace, that is
 * without showing its token (socket.io's default is 45 s). Clients join within a round
 * trip of the handshake.
 */
export const UNPROVEN_TIMEOUT_MS = 10_000;

export interface ChatServerOptions {
  config: Pick<Config, 'maxMessageBytes' | 'heartbeatMs' | 'redisUrl' | 'allowedOrigins' | 'trustProxy'>;
  /** With JWT a recovered client shows its token again: the middlewares run for it too. */
  usesJwt: boolean;
  /** Where broadcasts to idle WebSocket clients go instead of engine.io; null: the fast path is off. */
  fastFrames: FastFrames | null;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The Socket.IO server on the shared HTTP server, with this server's rules: one
 * heartbeat for both kinds of client, the packet limit, one write per WebSocket client
 * per turn, the origin policy for long-polling, and oversize packets counted, logged and
 * their senders disconnected on both transports.
 */
export function createChatServer(httpServer: HttpServer, options: ChatServerOptions): ChatServer {
  const { config, metrics, logger } = options;
  const { allowedOrigins } = config;
  const io: ChatServer = new Server(httpServer, {
    path: SOCKET_IO_PATH,
    maxHttpBufferSize: packetLimit(config.maxMessageBytes),
    wsEngine: corkingWsEngine(undefined, (err, req) => onWebSocketError(err, clientAddress(req, config), metrics, logger), options.fastFrames ?? undefined),
    // A peer that has not answered by the next ping is gone, as on the raw endpoint.
    pingInterval: config.heartbeatMs,
    pingTimeout: config.heartbeatMs,
    // A session that has not joined a namespace (a refused connect does not stop this
    // timer) is closed after this long, and its place counted free again (see Admission).
    connectTimeout: UNPROVEN_TIMEOUT_MS,
    // Rooms come and go: a namespace nobody is in would otherwise stay for the life of the process.
    cleanupEmptyChildNamespaces: true,
    // Only with Redis, whose room adapter keeps missed packets in Redis: in memory every
    // broadcast would be kept for two minutes, whatever the message rate.
    ...(config.redisUrl !== null
      ? { connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: !options.usesJwt } }
      : {}),
    // Long-polling handshakes are plain HTTP requests: the same origin policy as the
    // WebSocket upgrades, which the upgrade router checks before they get here.
    allowRequest: (req, callback) => {
      const allowed = isOriginAllowed(req, allowedOrigins);
      if (!allowed) metrics.reject('origin');
      callback(null, allowed);
    },
    // Lets pages on the allowed foreign origins read long-polling responses.
    ...(allowedOrigins === '*' || allowedOrigins.length > 0 ? { cors: { origin: allowedOrigins === '*' ? true : [...allowedOrigins] } } : {}),
  });
  io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => {
    if (req.method === 'POST') res.once('finish', () => afterPollingPost(io, req, res, config, metrics, logger));
    next();
  });
  return io;
}

/**
 * A frame over maxHttpBufferSize (or otherwise broken) on a Socket.IO WebSocket: ws
 * closes it (1009 for size) and engine.io disconnects the client with "transport error",
 * saying nothing more; here it is counted and logged.
 */
function onWebSocketError(err: Error & { code?: string }, ip: string, metrics: Metrics, logger: Logger): void {
  const reason = wsErrorReason(err.code);
  metrics.reject(reason);
  const fields = { transport: 'socket.io', via: 'websocket', ip, code: err.code, err: err.message };
  logger.info(fields, reason === 'size' ? 'packet too large; disconnected' : 'protocol error; disconnected');
}

/**
 * engine.io answers a long-polling POST over maxHttpBufferSize with 413 and keeps the
 * session; socket.io-client gives up on its own, a hostile client would not. The session
 * is closed here, as the WebSocket one is, and counted and logged.
 */
function afterPollingPost(io: ChatServer, req: IncomingMessage, res: ServerResponse, config: Pick<Config, 'trustProxy'>, metrics: Metrics, logger: Logger): void {
  if (res.statusCode !== 413) return;
  metrics.reject('size');
  const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sid') ?? '';
  logger.info({ transport: 'socket.io', via: 'polling', ip: clientAddress(req, config), sid }, 'packet too large; disconnected');
  sessionById(io.engine, sid)?.close();
}
