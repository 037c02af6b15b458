import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Server, type Socket } from 'socket.io';
import type { WebSocket } from 'ws';
import { isRefusal, type Admission, type Refusal, type Ticket } from '../access/admission';
import { isTokenRefusal, mayEnter, type Identity, type JwtVerifier } from '../access/jwt';
import type { Config } from '../config';
import type { FloodControl } from '../room/flood-control';
import type { Member, Members } from '../room/members';
import { claimedName, displayName } from '../room/names';
import type { RoomSink } from '../room/room';
import type { Rooms } from '../room/rooms';
import { withDeadline } from '../support/deadline';
import type { ExpiryClock } from '../support/expiry-clock';
import { wsErrorReason, type Metrics } from '../support/metrics';
import { isOriginAllowed } from '../access/origin';
import {
  ChatError,
  DEFAULT_ROOM,
  isRoomName,
  MAX_ROOMS_PER_CONNECTION,
  RoomError,
  SOCKET_IO_PATH,
  TYPING_INTERVAL_MS,
  type ChatAck,
  type ChatMessage,
  type ClientToServerEvents,
  type Notice,
  type ServerToClientEvents,
} from '../protocol';
import { rejectUpgrade } from '../access/reject-upgrade';
import type { Budget } from '../room/flood-control';
import { corkingWsEngine } from './corking-ws-engine';
import { FastFrames, installFastPath, missingInternals } from './socketio-fast-path';
import { SlowConsumerRule, type DrainState } from './slow-consumer';

export interface SocketData {
  name: string;
  /** From the token shown when joining this namespace (JWT only). */
  identity?: Identity;
}

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ChatNamespace = ReturnType<ChatServer['of']>;
type EngineConnection = Socket['conn'];

export interface SocketIoTransportOptions {
  rooms: Rooms;
  members: Members;
  httpServer: HttpServer;
  config: Config;
  admission: Admission;
  /** Message budgets, kept per address across reconnects. */
  floodControl: FloodControl;
  metrics: Metrics;
  logger: Logger;
  /** True while other nodes cannot be reached (Redis down): emit to this node's clients only. */
  localOnly?: () => boolean;
  /**
   * True when other nodes may have Socket.IO clients in a room that this node has none
   * in: a room's broadcast then goes through its namespace's adapter even so.
   */
  clustered?: boolean;
  /** Set when clients need a JWT (then CHAT_TOKEN is unset). */
  jwt?: JwtVerifier | null;
  /** Ends each socket when its token expires. */
  expiry: ExpiryClock;
}

/** The lobby is `/` (the seed's `io.emit`) and `/lobby` alike. */
const LOBBY_ALIAS = `/${DEFAULT_ROOM}`;

/** The room a namespace stands for, or null for a name that is not a room's. */
export function roomOfNamespace(namespace: string): string | null {
  if (namespace === '/') return DEFAULT_ROOM;
  const name = namespace.slice(1);
  return namespace.startsWith('/') && isRoomName(name) ? name : null;
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
 * How long an Engine.IO session may stay open without joining the namespace, that is
 * without showing CHAT_TOKEN (socket.io's default is 45 s). Clients join within a round
 * trip of the handshake.
 */
export const UNPROVEN_TIMEOUT_MS = 10_000;

/** The connect_error message a client gets for a missing or wrong CHAT_TOKEN or JWT. */
export const UNAUTHORIZED = 'unauthorized';

/** The connect_error message for a room its JWT's `rooms` claim does not include. */
export const FORBIDDEN = 'forbidden';

/**
 * Two Engine.IO internals the slow-consumer check reads, absent from its public types:
 * the packets waiting for a writable transport, and the `ws` socket of a WebSocket
 * transport (whose `bufferedAmount` is public `ws` API).
 */
interface EngineInternals {
  writeBuffer?: { data?: unknown }[];
  transport: { writable: boolean; socket?: WebSocket };
}

/** socket.io's open namespaces by name: internal, typed here. */
interface ServerInternals {
  _nsps: Map<string, ChatNamespace>;
}

/** A handshake's slot, held until Engine.IO opens its session or refuses it. */
interface Reservation {
  ticket: Ticket;
  /** The response (long-polling) or socket (WebSocket) whose 'close' means the client gave up. */
  closes: ServerResponse | Duplex;
  gone: () => void;
}

/** The handshake's `auth` as sent: any JSON, so each field is checked where it is used. */
function authOf(socket: ChatSocket): { name?: unknown; token?: unknown } {
  const auth: unknown = socket.handshake.auth;
  return typeof auth === 'object' && auth !== null ? auth : {};
}

/**
 * Socket.IO on the shared HTTP server. The namespace is the room: `/` is the lobby, in the
 * same room as the raw clients of `/socket`, and `/<room>` any other room, so one client
 * may be in several rooms over one connection.
 */
export class SocketIoTransport {
  readonly io: ChatServer;
  private readonly localOnly: () => boolean;
  private readonly clustered: boolean;
  private readonly rooms: Rooms;
  private readonly members: Members;
  private readonly config: Config;
  private readonly admission: Admission;
  private readonly floodControl: FloodControl;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly jwt: JwtVerifier | null;
  private readonly expiry: ExpiryClock;
  /** Every room's namespace but the lobby's `/` (socket.io creates each on first use). */
  private readonly roomNamespaces: ReturnType<ChatServer['of']> & { createChild(name: string): ChatNamespace };
  /**
   * Where broadcasts to idle WebSocket clients go instead of engine.io
   * (socketio-fast-path.ts); null when the fast path is off.
   */
  private readonly fastFrames: FastFrames | null;
  private slowCheckScheduled = false;
  private readonly slowConsumers: SlowConsumerRule;
  /**
   * What the slow-consumer rule remembers of the connections that are behind now: few,
   * so the per-turn check costs the many that keep up no lookup at all.
   */
  private readonly behind = new Map<EngineConnection, DrainState>();
  /**
   * Every open Engine.IO connection. Kept here because the per-turn slow-consumer check
   * walks them all: a Set iterates fast, where engine.io's own table is an object keyed
   * by session id (for...in over a thousand keys every turn cost a tenth of fan-out).
   */
  private readonly connections = new Set<EngineConnection>();
  /** Handshakes that passed the caps and have no session yet, by their request. */
  private readonly reservations = new WeakMap<IncomingMessage, Reservation>();
  /** Each open Engine.IO session's place in Admission's counts. */
  private readonly sessions = new WeakMap<EngineConnection, Ticket>();
  /** Each connection's flood budget, shared by every room it is in. */
  private readonly budgets = new WeakMap<EngineConnection, Budget | null>();
  /**
   * Rooms each connection is in or joining. Counted when a join passes checkRoom, not
   * when it completes: a client asking for hundreds of namespaces at once would
   * otherwise find each of them checked before any of them counted.
   */
  private readonly roomCounts = new WeakMap<EngineConnection, number>();

  constructor(options: SocketIoTransportOptions) {
    ({ rooms: this.rooms, members: this.members, config: this.config, admission: this.admission } = options);
    ({ metrics: this.metrics, logger: this.logger } = options);
    const { allowedOrigins } = this.config;
    this.localOnly = options.localOnly ?? (() => false);
    this.clustered = options.clustered ?? false;
    this.floodControl = options.floodControl;
    this.jwt = options.jwt ?? null;
    this.expiry = options.expiry;
    this.slowConsumers = SlowConsumerRule.fromConfig(this.config);
    this.fastFrames = this.config.socketIoFastPath && this.fastPathWorks() ? new FastFrames() : null;

    this.io = new Server(options.httpServer, {
      path: SOCKET_IO_PATH,
      maxHttpBufferSize: packetLimit(this.config.maxMessageBytes),
      // One write per WebSocket client per event-loop turn, however many packets it gets.
      wsEngine: corkingWsEngine(undefined, (err, req) => this.onWebSocketError(err, req), this.fastFrames ?? undefined),
      // One heartbeat policy for both kinds of client: a peer that has not answered by
      // the next ping is gone.
      pingInterval: this.config.heartbeatMs,
      pingTimeout: this.config.heartbeatMs,
      // A session that has not joined the namespace (it has not shown CHAT_TOKEN, or
      // showed a wrong one: a refused connect does not stop this timer) is closed after
      // this long, and its place counted free again (see Admission).
      connectTimeout: UNPROVEN_TIMEOUT_MS,
      // A room's namespace goes when its last client leaves: rooms come and go, and a
      // namespace nobody is in would otherwise stay for the life of the process.
      cleanupEmptyChildNamespaces: true,
      // Only with Redis: the streams adapter keeps the missed packets in Redis. In memory
      // every broadcast would be kept for two minutes, whatever the message rate.
      // With JWT a client coming back must show a valid token again (it may have expired
      // while it was away): the middlewares run for recovered sockets too.
      ...(this.config.redisUrl !== null
        ? { connectionStateRecovery: { maxDisconnectionDuration: RECOVERY_WINDOW_MS, skipMiddlewares: this.jwt === null } }
        : {}),
      // Long-polling handshakes are plain HTTP requests; they get the same origin policy
      // as WebSocket upgrades (which the upgrade router checks before they get here).
      allowRequest: (req, callback) => {
        const allowed = isOriginAllowed(req, allowedOrigins);
        if (!allowed) this.metrics.reject('origin');
        callback(null, allowed);
      },
      // Lets pages on the allowed foreign origins read long-polling responses.
      ...(allowedOrigins === '*' || allowedOrigins.length > 0
        ? { cors: { origin: allowedOrigins === '*' ? true : [...allowedOrigins] } }
        : {}),
    });

    this.io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) =>
      this.checkPollingHandshake(req, res, next),
    );
    this.io.engine.use((req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void) => {
      if (req.method === 'POST') res.once('finish', () => this.afterPollingPost(req, res));
      next();
    });
    // A handshake's slot is taken when it passes the caps (checkPollingHandshake,
    // handleUpgrade); here it passes to the session that handshake opened.
    this.io.engine.on('connection', (conn: EngineConnection) => this.opened(conn));
    this.io.engine.on('connection_error', (err: { req: IncomingMessage }) => this.abandon(err.req));

    // A name that is no room's is refused by socket.io itself ("Invalid namespace"),
    // before any namespace exists for it.
    this.roomNamespaces = this.io.of((name, _auth, next) => next(null, roomOfNamespace(name) !== null)) as typeof this.roomNamespaces;
    // Child namespaces copy the parent's middlewares and listeners when they are
    // created: everything is set up here, before the first client arrives.
    for (const namespace of [this.io.of('/'), this.roomNamespaces]) {
      namespace.use((socket, next) => this.checkToken(socket, next));
      namespace.use((socket, next) => this.checkRoom(socket, next));
      namespace.on('connection', (socket) => this.accept(socket));
    }
    this.rooms.addSinks((room) => this.sinkFor(room));
  }

  /** Whether engine.io and ws still have what the fast path relies on; says so when not. */
  private fastPathWorks(): boolean {
    const missing = missingInternals();
    if (missing === null) return true;
    this.logger.warn({ missing }, 'Socket.IO fast path off: this engine.io or ws lacks an internal it needs; every packet takes engine.io\'s path');
    return false;
  }

  /** Engine.IO connections (each may be in several rooms). */
  get size(): number {
    return this.io.engine.clientsCount;
  }

  /** A WebSocket upgrade for Socket.IO whose origin the router already accepted. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    // An upgrade that carries a sid moves an existing long-polling client to WebSocket:
    // it was admitted already.
    if (!url.searchParams.has('sid')) {
      const admitted = this.admission.admit(req.socket.remoteAddress ?? 'unknown', false);
      if (isRefusal(admitted)) {
        return this.refuse(admitted, () => rejectUpgrade(socket, admitted.status, admitted.message));
      }
      // ws can refuse the upgrade (a bad Sec-WebSocket-Key, say) without telling
      // Engine.IO: the socket closing is then the only sign.
      this.reserve(req, admitted, socket);
    }
    this.io.engine.handleUpgrade(req, socket, head);
  }

  /**
   * Shutdown: closes every client's underlying connection once its pending packets are
   * written. The clients see "transport close" and reconnect on their own (to another
   * node, or to this one once it is back); `socket.disconnect()` would tell them not to.
   * Resolves when all are gone, or after `graceMs`.
   */
  async close(graceMs: number): Promise<void> {
    const gone = [...this.connections].map(
      (conn) =>
        new Promise<void>((resolve) => {
          conn.once('close', () => resolve());
          conn.close();
        }),
    );
    await withDeadline(Promise.all(gone), graceMs);
    await this.io.close();
  }

  /** The Socket.IO part of a room coming into memory. */
  private sinkFor(room: string): RoomSink {
    const names = room === DEFAULT_ROOM ? ['/', LOBBY_ALIAS] : [`/${room}`];
    const emit = (event: 'chat' | 'notice', payload: ChatMessage | Notice) => this.emitToRoom(names, event, payload);
    return {
      // `nsp.emit` reaches every node's Socket.IO clients through the adapter.
      clusterWide: true,
      chat: (message) => emit('chat', message),
      notice: (notice, here) => (here === true ? this.noticeHere(names, notice) : emit('notice', notice)),
      dispose: () => this.forgetNamespace(room),
    };
  }

  /**
   * Emits to every namespace of a room (`names`: the lobby has two). A room's namespace exists
   * where it has Socket.IO clients; with several nodes it is made if need be, since
   * other nodes' clients are reached through it.
   */
  private emitToRoom(names: readonly string[], event: 'chat' | 'notice', payload: ChatMessage | Notice): void {
    let count = 0;
    for (const name of names) {
      const namespace = this.namespace(name);
      if (namespace === undefined) continue;
      // The adapter would hold a broadcast until Redis answers: during an outage local
      // clients would get nothing.
      if (this.fastFrames !== null) this.fastFrames.chatNext = event === 'chat';
      (this.localOnly() ? namespace.local : namespace).emit(event, payload as ChatMessage & Notice);
      if (this.fastFrames !== null) this.fastFrames.chatNext = false;
      count += namespace.sockets.size;
    }
    this.afterBroadcast(count);
  }

  /** A notice for this node's Socket.IO clients of the room only (see RoomSink.notice). */
  private noticeHere(names: readonly string[], notice: Notice): void {
    let count = 0;
    for (const name of names) {
      const namespace = (this.io as unknown as ServerInternals)._nsps.get(name);
      if (namespace === undefined) continue;
      namespace.local.emit('notice', notice);
      count += namespace.sockets.size;
    }
    this.afterBroadcast(count);
  }

  private namespace(name: string): ChatNamespace | undefined {
    const existing = (this.io as unknown as ServerInternals)._nsps.get(name);
    if (existing !== undefined || !this.clustered) return existing;
    return this.roomNamespaces.createChild(name);
  }

  /** A room left memory: a namespace made for it that nobody joined goes too. */
  private forgetNamespace(room: string): void {
    if (room === DEFAULT_ROOM) return;
    const name = `/${room}`;
    const nsps = (this.io as unknown as ServerInternals)._nsps;
    const namespace = nsps.get(name);
    if (namespace === undefined || namespace.sockets.size > 0) return;
    namespace.adapter.close();
    nsps.delete(name);
    (this.roomNamespaces as unknown as { children: Set<ChatNamespace> }).children.delete(namespace);
  }

  private checkToken(socket: ChatSocket, next: (err?: Error) => void): void {
    if (this.jwt === null) {
      if (this.admission.tokenAccepted(authOf(socket).token)) return next();
      this.metrics.reject('auth');
      return next(new Error(UNAUTHORIZED));
    }
    // socket.io ignores a `next` that comes after the connection closed.
    void this.jwt.verify(authOf(socket).token).then((identity) => {
      const fields = { transport: 'socket.io', ip: socket.handshake.address, namespace: socket.nsp.name };
      if (isTokenRefusal(identity)) {
        this.metrics.reject('auth');
        this.logger.info({ ...fields, reason: identity }, 'join refused: token');
        return next(new Error(UNAUTHORIZED));
      }
      if (!mayEnter(identity, roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM)) {
        this.metrics.reject('forbidden');
        this.logger.info({ ...fields, sub: identity.sub }, 'join refused: room not in token');
        return next(new Error(FORBIDDEN));
      }
      socket.data.identity = identity;
      next();
    }).catch((err: unknown) => {
      // As for a raw handshake: a bug past the verification costs this client only.
      this.logger.error({ err, transport: 'socket.io', ip: socket.handshake.address }, 'join failed');
      next(new Error(UNAUTHORIZED));
    });
  }

  /** Room in memory, or a place for it; and not too many rooms on one connection. */
  private checkRoom(socket: ChatSocket, next: (err?: Error) => void): void {
    const joined = this.roomCounts.get(socket.conn) ?? 0;
    if (joined >= MAX_ROOMS_PER_CONNECTION) {
      this.metrics.reject('room_limit');
      return next(new Error(RoomError.TooManyRooms));
    }
    const room = roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM;
    if (this.rooms.open(room) !== null) {
      this.roomCounts.set(socket.conn, joined + 1);
      return next();
    }
    this.metrics.reject('room_limit');
    this.logger.info({ transport: 'socket.io', room }, 'join refused: room limit');
    next(new Error(RoomError.RoomLimit));
  }
  /**
   * A frame over maxHttpBufferSize (or otherwise broken) on a Socket.IO WebSocket: ws
   * closes it (1009 for size) and engine.io disconnects the client with "transport
   * error", saying nothing more; here it is counted and logged.
   */
  private onWebSocketError(err: Error & { code?: string }, req: IncomingMessage): void {
    const reason = wsErrorReason(err.code);
    this.metrics.reject(reason);
    const fields = { transport: 'socket.io', via: 'websocket', ip: req.socket.remoteAddress, code: err.code, err: err.message };
    this.logger.info(fields, reason === 'size' ? 'packet too large; disconnected' : 'protocol error; disconnected');
  }

  /**
   * engine.io answers a long-polling POST over maxHttpBufferSize with 413 and keeps the
   * session; socket.io-client gives up on its own, a hostile client would not. The
   * session is closed here, as the WebSocket one is, and counted and logged.
   */
  private afterPollingPost(req: IncomingMessage, res: ServerResponse): void {
    if (res.statusCode !== 413) return;
    this.metrics.reject('size');
    const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sid') ?? '';
    this.logger.info({ transport: 'socket.io', via: 'polling', ip: req.socket.remoteAddress, sid }, 'packet too large; disconnected');
    // engine.io's own table of open sessions, by the sid the request carries (typed protected).
    const sessions = (this.io.engine as unknown as { clients: Record<string, { close(): void } | undefined> }).clients;
    sessions[sid]?.close();
  }

  /** Caps for a new long-polling client (WebSocket handshakes are checked in handleUpgrade). */
  private checkPollingHandshake(req: IncomingMessage, res: ServerResponse, next: (err?: Error) => void): void {
    const isHandshake = req.headers.upgrade === undefined && !new URL(req.url ?? '/', 'http://x').searchParams.has('sid');
    if (!isHandshake) return next();
    const admitted = this.admission.admit(req.socket.remoteAddress ?? 'unknown', false);
    if (isRefusal(admitted)) {
      return this.refuse(admitted, () => {
        res.writeHead(admitted.status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`${admitted.message}\n`);
      });
    }
    this.reserve(req, admitted, res);
    next();
  }

  /**
   * Holds `ticket` for the handshake `req` until Engine.IO opens its session or gives up
   * on it. Engine.IO says when it refuses a handshake ('connection_error'), but a client
   * that goes away while its handshake waits (middlewares and id generation are
   * asynchronous) is only seen by `closes` closing.
   */
  private reserve(req: IncomingMessage, ticket: Ticket, closes: ServerResponse | Duplex): void {
    const gone = () => this.abandon(req);
    closes.once('close', gone);
    this.reservations.set(req, { ticket, closes, gone });
  }

  /** The handshake `req` will open no session: its slot is free again. */
  private abandon(req: IncomingMessage): void {
    const reservation = this.reservations.get(req);
    if (reservation === undefined) return;
    this.reservations.delete(req);
    reservation.closes.off('close', reservation.gone);
    this.admission.release(reservation.ticket);
  }

  /** A new Engine.IO session: the slot its handshake reserved is its own until it closes. */
  private opened(conn: Socket['conn']): void {
    const reservation = this.reservations.get(conn.request);
    this.reservations.delete(conn.request);
    reservation?.closes.off('close', reservation.gone);
    if (reservation === undefined || reservation.ticket.state === 'released') {
      // Its client went away during the handshake, or its place went to a newcomer
      // (evicted while unproven): either way the slot is gone.
      conn.close(true);
      return;
    }
    const { ticket } = reservation;
    if (this.fastFrames !== null) installFastPath(conn);
    this.sessions.set(conn, ticket);
    this.connections.add(conn);
    ticket.onEvict = () => {
      this.logger.info({ transport: 'socket.io', ip: ticket.ip }, 'session without a token evicted to make room');
      // Discarded: a long-polling session without a pending request would otherwise
      // wait for the next one to send its close packet. Its next request gets 400.
      conn.close(true);
    };
    conn.once('close', () => {
      this.connections.delete(conn);
      this.behind.delete(conn);
      this.admission.release(ticket);
    });
  }

  private refuse(refusal: Refusal, answer: () => void): void {
    this.metrics.reject(refusal.reason);
    this.logger.info({ transport: 'socket.io', status: refusal.status }, `handshake refused: ${refusal.reason}`);
    answer();
  }

  private accept(socket: ChatSocket): void {
    // A recovered client skips the middlewares without JWT (checkRoom counted its other rooms).
    if (socket.recovered && this.jwt === null) this.roomCounts.set(socket.conn, (this.roomCounts.get(socket.conn) ?? 0) + 1);
    socket.once('disconnect', () => this.roomCounts.set(socket.conn, Math.max(0, (this.roomCounts.get(socket.conn) ?? 1) - 1)));
    // Past the token check: this session keeps its place until it closes.
    const ticket = this.sessions.get(socket.conn);
    if (ticket !== undefined) this.admission.prove(ticket);
    // Opened by checkRoom just before; again here for a recovered client, which skips
    // middlewares, and in case the place went meanwhile.
    const room = this.rooms.open(roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM);
    if (room === null) {
      socket.disconnect(true);
      return;
    }
    room.arrive();
    const identity = socket.data.identity;
    const name = identity === undefined ? displayName(authOf(socket).name) : claimedName(identity.name, identity.sub);
    socket.data.name = name;
    if (identity?.expiresAt != null) {
      // Disconnected, not just closed: `io server disconnect` tells the client not to
      // come back on its own with the same token. Only this room's namespace: the
      // connection's other rooms were joined with tokens of their own. A connection left
      // in no room is closed, so that an expired token keeps no place.
      const expiry = this.expiry.add(identity.expiresAt, () => {
        this.logger.info({ transport: 'socket.io', sid: socket.id, name }, 'token expired; disconnecting');
        socket.disconnect((this.roomCounts.get(socket.conn) ?? 0) <= 1);
      });
      socket.once('disconnect', () => expiry.cancel());
    }
    const member: Member = { room, name, user: identity?.sub, budget: this.budgetOf(socket.conn) };
    // Fields per line, not a child logger per connection: a child would hold about
    // 0.45 KiB for as long as the connection lives, to write two lines.
    const fields = { transport: 'socket.io', sid: socket.id };

    socket.on('chat', (text: unknown, ack: unknown) => {
      // Validate, ack, and only then broadcast. Type hints do not check what arrives.
      const reply = typeof ack === 'function' ? (ack as (result: ChatAck) => void) : undefined;
      const error = this.members.post(member, 'socket.io', text, true, {
        accepted: (message) => reply?.({ ok: true, id: message.id }),
        refused: () => reply?.({ ok: false, error: ChatError.Unavailable }),
      });
      if (error !== null) reply?.({ ok: false, error });
    });
    // Whatever a client sends along with `typing` is ignored: the name is the one given
    // here. Well-behaved clients send one per TYPING_INTERVAL_MS; the rest are dropped so
    // that one client cannot make the server fan out a flood. Raw clients get nothing.
    let lastTypingAt = -Infinity;
    socket.on('typing', () => {
      const now = Date.now();
      if (now - lastTypingAt < TYPING_INTERVAL_MS / 2) return;
      lastTypingAt = now;
      (this.localOnly() ? socket.broadcast.local : socket.broadcast).volatile.emit('typing', { name });
    });

    let joined = false;
    socket.on('disconnect', (reason) => {
      if (joined) this.members.leave(member, { ...fields, reason });
      else room.abandon();
    });
    const enter = () => {
      if (!socket.connected) return; // gone while the room's history was loading
      // A recovered client (back within RECOVERY_WINDOW_MS) has just been sent what it
      // missed, its own leave included; history again would repeat it. Its return is a
      // join like any other: one leave and one join per drop, no more.
      if (!socket.recovered) {
        socket.emit('history', room.recent());
        socket.emit('presence', room.presenceNow());
      }
      joined = true;
      this.members.join(member, { ...fields, ip: socket.handshake.address, via: socket.conn.transport.name });
    };
    if (room.loaded) enter();
    else void room.ready.then(enter);
  }

  /** One flood budget per connection, whatever rooms it is in (joining more gives no more). */
  private budgetOf(conn: EngineConnection): Budget | null {
    if (this.budgets.has(conn)) return this.budgets.get(conn) ?? null;
    const budget = this.floodControl.open(conn.remoteAddress);
    this.budgets.set(conn, budget);
    conn.once('close', () => this.floodControl.close(budget));
    return budget;
  }

  /** Counts the deliveries and, once per turn, looks for clients that stopped reading. */
  private afterBroadcast(deliveries: number): void {
    this.metrics.delivered('socket.io', deliveries);
    if (this.slowCheckScheduled) return;
    this.slowCheckScheduled = true;
    setImmediate(() => {
      this.slowCheckScheduled = false;
      this.cutSlowConsumers();
    });
  }

  /**
   * Engine.IO keeps a client's packets in its own queue while the transport is busy, and
   * the TCP socket holds what the kernel has not taken: together, what that client has
   * not read. The slow-consumer rule judges that number (see slow-consumer.ts): above
   * MAX_BUFFERED_BYTES for MAX_BUFFERED_MS without draining, or above the ceiling, the
   * connection is closed; the client's 'disconnect' then announces the leave, once.
   */
  private cutSlowConsumers(): void {
    for (const conn of this.connections) {
      // Closing already (cut in an earlier turn, its 'close' to come).
      if (conn.readyState !== 'open') continue;
      const internals = conn as unknown as EngineInternals;
      // The TCP socket's buffer holds what the kernel has not taken: with the fast path
      // that is where a WebSocket client's broadcasts wait, while engine.io's transport
      // stays writable, so it is read whatever engine.io says.
      const ws = internals.transport.socket;
      let pending = ws?.bufferedAmount ?? 0;
      const queued = internals.writeBuffer;
      if (queued !== undefined && queued.length > 0) {
        for (const packet of queued) {
          if (typeof packet.data === 'string' || Buffer.isBuffer(packet.data)) pending += packet.data.length;
        }
      }
      // Looked up only when anyone is behind: most turns nobody is, and the many that
      // keep up then cost no lookup at all.
      let drain = this.behind.size === 0 ? undefined : this.behind.get(conn);
      if (!this.slowConsumers.isBehind(pending)) {
        // Back under the limit: whatever it had, it took.
        if (drain !== undefined) this.behind.delete(conn);
        continue;
      }
      if (drain === undefined) {
        drain = { overSince: 0 };
        this.behind.set(conn, drain);
      }
      if (this.slowConsumers.judge(drain, pending) === 'keep') continue;
      this.behind.delete(conn);
      this.metrics.reject('slow_consumer');
      this.logger.info({ transport: 'socket.io', ip: conn.remoteAddress, pending }, 'slow consumer; disconnecting');
      // A close frame would wait behind what the client is not reading: cut the TCP
      // connection (WebSocket), or drop the session (long-polling).
      if (ws !== undefined) ws.terminate();
      else conn.close(true);
    }
  }
}
