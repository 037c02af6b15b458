import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Server, type Socket } from 'socket.io';
import type { AllowedOrigins } from '../config';
import { chatTextError } from '../chat-text';
import { withDeadline } from '../deadline';
import type { Hub, Transport } from '../hub';
import { displayName } from '../names';
import { isOriginAllowed } from '../origin';
import {
  SOCKET_IO_PATH,
  TYPING_INTERVAL_MS,
  type ChatAck,
  type ChatMessage,
  type ClientToServerEvents,
  type Notice,
  type ServerToClientEvents,
} from '../protocol';

export interface SocketData {
  name: string;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface SocketIoTransportOptions {
  hub: Hub;
  httpServer: HttpServer;
  allowedOrigins: AllowedOrigins;
  maxMessageBytes: number;
  logger: Logger;
}

/**
 * Room for the JSON encoding of a message (quotes and escapes can double it) and the
 * packet's own framing: a `chat` between MAX_MESSAGE_BYTES and this gets a `too_large`
 * ack; a packet larger than this is refused by Engine.IO, which disconnects its sender.
 */
export function packetLimit(maxMessageBytes: number): number {
  return 2 * maxMessageBytes + 4096;
}

/** Socket.IO on the shared HTTP server, in the same room as the raw clients. */
export class SocketIoTransport implements Transport {
  readonly io: ChatServer;
  private readonly hub: Hub;
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;

  constructor(options: SocketIoTransportOptions) {
    this.hub = options.hub;
    this.logger = options.logger;
    this.maxMessageBytes = options.maxMessageBytes;
    const { allowedOrigins } = options;

    this.io = new Server(options.httpServer, {
      path: SOCKET_IO_PATH,
      maxHttpBufferSize: packetLimit(options.maxMessageBytes),
      // Long-polling handshakes are plain HTTP requests; they get the same origin policy
      // as WebSocket upgrades (which the upgrade router checks before they get here).
      allowRequest: (req, callback) => callback(null, isOriginAllowed(req, allowedOrigins)),
      // Lets pages on the allowed foreign origins read long-polling responses.
      ...(allowedOrigins === '*' || allowedOrigins.length > 0
        ? { cors: { origin: allowedOrigins === '*' ? true : [...allowedOrigins] } }
        : {}),
    });
    this.io.on('connection', (socket) => this.accept(socket));
  }

  get size(): number {
    return this.io.engine.clientsCount;
  }

  deliverChat(message: ChatMessage): void {
    this.io.emit('chat', message);
  }

  deliverNotice(notice: Notice): void {
    this.io.emit('notice', notice);
  }

  /**
   * Shutdown: closes every client's underlying connection once its pending packets are
   * written. The clients see "transport close" and reconnect on their own (to another
   * node, or to this one once it is back); `socket.disconnect()` would tell them not to.
   * Resolves when all are gone, or after `graceMs`.
   */
  async close(graceMs: number): Promise<void> {
    const sockets = [...this.io.of('/').sockets.values()];
    const gone = sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.conn.once('close', () => resolve());
          socket.conn.close();
        }),
    );
    await withDeadline(Promise.all(gone), graceMs);
    await this.io.close();
  }

  private accept(socket: ChatSocket): void {
    const auth: unknown = socket.handshake.auth;
    const name = displayName(typeof auth === 'object' && auth !== null ? (auth as { name?: unknown }).name : undefined);
    socket.data.name = name;
    const log = this.logger.child({ transport: 'socket.io', name, sid: socket.id });
    log.info({ ip: socket.handshake.address, via: socket.conn.transport.name }, 'connection open');

    socket.on('chat', (text: unknown, ack: unknown) => this.onChat(name, text, ack));
    // Whatever a client sends along with `typing` is ignored: the name is the one given
    // here. Well-behaved clients send one per TYPING_INTERVAL_MS; the rest are dropped so
    // that one client cannot make the server fan out a flood. Raw clients get nothing.
    let lastTypingAt = -Infinity;
    socket.on('typing', () => {
      const now = Date.now();
      if (now - lastTypingAt < TYPING_INTERVAL_MS / 2) return;
      lastTypingAt = now;
      socket.broadcast.volatile.emit('typing', { name });
    });
    socket.on('disconnect', (reason) => {
      log.info({ reason }, 'connection close');
      this.hub.leave(name);
    });

    socket.emit('history', this.hub.recent());
    this.hub.join(name);
  }

  /** Validate, ack, and only then broadcast. Type hints do not check what arrives. */
  private onChat(name: string, text: unknown, ack: unknown): void {
    const reply = typeof ack === 'function' ? (ack as (result: ChatAck) => void) : undefined;
    const error = chatTextError(text, this.maxMessageBytes);
    if (error !== null) {
      reply?.({ ok: false, error });
      return;
    }
    this.hub.post(name, text as string, (message) => reply?.({ ok: true, id: message.id }));
  }
}
