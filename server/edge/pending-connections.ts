import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Metrics } from '../support/metrics';
import type { TrustedProxies } from '../trusted-proxies';

/**
 * Bounds on connections that are not clients yet: accepted, and no request head read from
 * them (over TLS: handshake included). Every client passes through this state for a
 * moment; a peer that stays in it holds a file descriptor and gives nothing for it.
 */
export interface PendingLimits {
  /** From accept until the request head has been read; later it is answered 408 (TLS before its handshake: dropped). */
  readonly timeoutMs: number;
  /** Pending connections at once; a new one past it takes the place of the oldest. */
  readonly max: number;
  /** Pending connections of one remote address at once, the same way; 0: no bound per address. */
  readonly maxPerAddress: number;
  /**
   * TRUST_PROXY: their connections are not bounded per address. A proxy's connections
   * carry many clients, and which one is known only from the request head.
   */
  readonly trustedProxies: TrustedProxies;
}

/** HANDSHAKE_TIMEOUT_MS, MAX_PENDING_CONNECTIONS, MAX_PENDING_CONNECTIONS_PER_IP and TRUST_PROXY. */
export function pendingLimits(config: Config): PendingLimits {
  return {
    timeoutMs: config.handshakeTimeoutMs,
    max: config.maxPendingConnections,
    maxPerAddress: config.maxPendingConnectionsPerIp,
    trustedProxies: config.trustProxy,
  };
}

export interface PendingOptions extends PendingLimits {
  /** The server does TLS: a connection is answered only once its handshake is done. */
  readonly tls: boolean;
  /**
   * When a connection stops being pending: once a request head has been read (an HTTP
   * server), or once its first bytes have arrived (the primary of WORKERS > 1, which
   * only hands connections over and parses nothing).
   */
  readonly until: 'request' | 'first-bytes';
  /** null: not counted (the primary has no /metrics). */
  readonly metrics: Pick<Metrics, 'reject'> | null;
  readonly logger: Logger;
}

type PendingEnd = 'handshake_timeout' | 'pending_limit';

interface Pending {
  /** The accepted TCP connection (over TLS: the socket under the TLS socket). */
  readonly socket: Socket;
  /** The TLS socket over it once its handshake is done: answers go through it. */
  secure: Socket | null;
  readonly address: string;
  /** Over TLS, its two addresses and ports, unique among open connections: how its TLS socket finds it. */
  readonly tuple: string;
  /** performance.now() at which it is answered 408. */
  readonly deadline: number;
  readonly onClose: () => void;
}

/** Remote and local address and port: the same on a TCP socket and on the TLS socket over it. */
function tupleOf(socket: Socket): string {
  return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}|${socket.localAddress ?? ''}|${socket.localPort ?? ''}`;
}

/** The first item of an insertion-ordered collection: the oldest. */
function oldest<T>(items: Iterable<T>): T | undefined {
  for (const item of items) return item;
  return undefined;
}

/**
 * Tracks `server`'s pending connections and holds them to PendingLimits. Call it once the
 * server's other 'request' and 'upgrade' listeners are in place.
 *
 * The caps make way rather than refuse: a newcomer past a cap takes the place of the
 * oldest pending connection (of its own address for the per-address cap, of all for the
 * total), which is answered 503 and closed. A client that sends its request promptly
 * therefore always gets in, and a peer that opens connections and sends nothing only
 * churns its own.
 *
 * Over TLS the server's 'connection' is the TCP socket and requests come on the TLS socket
 * over it, a different object that Node links to it only privately; the two are matched by
 * their addresses and ports.
 */
export function guardPendingConnections(server: HttpServer, options: PendingOptions): void {
  const pending = new PendingConnections(options);
  server.on('connection', (socket: Socket) => {
    pending.accepted(socket);
    if (options.until === 'first-bytes') socket.once('data', () => pending.admitted(socket));
  });
  if (options.until === 'request') {
    if (options.tls) server.on('secureConnection', (socket: Socket) => pending.secured(socket));
    const admit = (req: IncomingMessage): void => pending.admitted(req.socket);
    server.prependListener('request', admit);
    server.prependListener('upgrade', admit);
  }
}

class PendingConnections {
  /** Oldest first: insertion order is accept order, and so deadline order. */
  private readonly order = new Set<Pending>();
  /** By TCP socket and, once its handshake is done, by TLS socket. */
  private readonly bySocket = new Map<Socket, Pending>();
  private readonly byAddress = new Map<string, Set<Pending>>();
  /** Over TLS: not yet handshaken, by addresses and ports. */
  private readonly byTuple = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: PendingOptions) {}

  /** A connection was accepted: pending from now, and room is made for it. */
  accepted(socket: Socket): void {
    const address = socket.remoteAddress;
    // Already gone (the peer reset it before it was accepted): nothing to hold.
    if (address === undefined) return;
    const { max, maxPerAddress, timeoutMs, trustedProxies } = this.options;
    const sameAddress = this.byAddress.get(address);
    if (maxPerAddress > 0 && sameAddress !== undefined && sameAddress.size >= maxPerAddress && !trustedProxies.has(address)) {
      const first = oldest(sameAddress);
      if (first !== undefined) this.end(first, 'pending_limit');
    }
    if (this.order.size >= max) {
      const first = oldest(this.order);
      if (first !== undefined) this.end(first, 'pending_limit');
    }
    const entry: Pending = {
      socket,
      secure: null,
      address,
      tuple: this.options.tls ? tupleOf(socket) : '',
      deadline: performance.now() + timeoutMs,
      onClose: () => this.forget(entry),
    };
    this.order.add(entry);
    this.bySocket.set(socket, entry);
    if (this.options.tls) this.byTuple.set(entry.tuple, entry);
    const set = this.byAddress.get(address) ?? new Set<Pending>();
    set.add(entry);
    this.byAddress.set(address, set);
    socket.once('close', entry.onClose);
    this.arm();
  }

  /** The TLS handshake of a pending connection is done: its answers go through `secure`. */
  secured(secure: Socket): void {
    const entry = this.byTuple.get(tupleOf(secure));
    if (entry === undefined) return;
    this.byTuple.delete(entry.tuple);
    entry.secure = secure;
    this.bySocket.set(secure, entry);
  }

  /** A request head was read on `socket` (the TCP or TLS socket): a client now, not pending. */
  admitted(socket: Socket): void {
    const entry = this.bySocket.get(socket);
    if (entry === undefined) return;
    entry.socket.off('close', entry.onClose);
    this.forget(entry);
  }

  private forget(entry: Pending): void {
    if (!this.order.delete(entry)) return;
    this.bySocket.delete(entry.socket);
    if (entry.secure !== null) this.bySocket.delete(entry.secure);
    if (this.byTuple.get(entry.tuple) === entry) this.byTuple.delete(entry.tuple);
    const set = this.byAddress.get(entry.address);
    set?.delete(entry);
    if (set?.size === 0) this.byAddress.delete(entry.address);
  }

  /** Ends a pending connection: answered (408 past its deadline, 503 to make way) and closed. */
  private end(entry: Pending, reason: PendingEnd): void {
    entry.socket.off('close', entry.onClose);
    this.forget(entry);
    this.options.metrics?.reject(reason);
    this.options.logger.debug({ ip: entry.address, reason }, 'pending connection closed');
    // Before its handshake a TLS connection has no way to carry an answer.
    if (this.options.tls && entry.secure === null) {
      entry.socket.destroy();
      return;
    }
    const socket = entry.secure ?? entry.socket;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = reason === 'handshake_timeout' ? 408 : 503;
    const body =
      reason === 'handshake_timeout'
        ? `No request arrived within ${this.options.timeoutMs} ms of connecting\n`
        : 'Too many connections are waiting to send a request; this was the oldest\n';
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        '\r\n' +
        body,
    );
    // The server side is ended; the peer need not close its own for the descriptor to go.
    socket.once('finish', () => socket.destroy());
  }

  /** One timer, for the oldest pending connection's deadline. */
  private arm(): void {
    if (this.timer !== null) return;
    const first = oldest(this.order);
    if (first === undefined) return;
    this.timer = setTimeout(
      // After the next poll phase: a head that has arrived by the deadline, but was not yet
      // read because the event loop was busy, is read and counts before the sweep.
      () => setImmediate(() => this.sweep()),
      Math.max(0, first.deadline - performance.now()),
    );
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = null;
    const now = performance.now();
    for (const entry of this.order) {
      if (entry.deadline > now) break;
      this.end(entry, 'handshake_timeout');
    }
    this.arm();
  }
}
