import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientAddress } from '../../access/client-address';
import { isEntryRefusal, type Entry, type EntryRefusal } from '../../access/credentials';
import type { Config } from '../../config';
import { BANNED, ChatError, DEFAULT_ROOM, TokenError, type ChatAck } from '../../protocol';
import type { SessionCore } from '../../session/core';
import type { Room } from '../../room/room';
import type { Member, MemberWire, PostReply } from '../../session/member';
import { isRoomRefusal, type Session } from '../../session/session';
import { SlowConsumerRule } from '../../session/slow-consumer';
import { FastFrames, installFastPath } from './fast-path';
import { EngineHandshakes } from './handshakes';
import { createChatServer, roomOfNamespace, type ChatServer, type ChatSocket, type EngineConnection, type ParentNamespace } from './server';
import { RoomNamespaces } from './sink';
import { SlowConnections } from './slow-consumers';

export interface SocketIoTransportOptions {
  core: SessionCore;
  httpServer: HttpServer;
  config: Config;
  /** True while other nodes cannot be reached (Redis down): emit to this node's clients only. */
  localOnly?: () => boolean;
  /**
   * True when other nodes may have Socket.IO clients in a room that this node has none
   * in: a room's broadcast then goes through its namespace's adapter even so.
   */
  clustered?: boolean;
  /** False: every packet takes engine.io's own path (SOCKETIO_FAST_PATH=off, or an internal it needs is missing). */
  fastPath: boolean;
}

/** The handshake's `auth` as sent: any JSON, so each field is checked where it is used. */
function authOf(socket: ChatSocket): { name?: unknown; token?: unknown } {
  const auth: unknown = socket.handshake.auth;
  return typeof auth === 'object' && auth !== null ? auth : {};
}

/** A `chat`'s ack, as the session's reply: validated, acked, and only then broadcast. */
function ackReply(ack: unknown, member: Member): PostReply {
  const reply = typeof ack === 'function' ? (ack as (result: ChatAck) => void) : undefined;
  return {
    accepted: (message) => {
      member.posted(message.id);
      reply?.({ ok: true, id: message.id });
    },
    refused: () => reply?.({ ok: false, error: ChatError.Unavailable }),
    rejected: (error, reason) => reply?.(reason === undefined ? { ok: false, error } : { ok: false, error, reason }),
  };
}

/** An event's ack, if the client asked for one: a refusal and an answer alike go there. */
function answerOf(ack: unknown): (answer: unknown) => void {
  return typeof ack === 'function' ? (ack as (answer: unknown) => void) : ignore;
}
const ignore = (): void => undefined;

/** Each socket's member, for onRequest (not in `socket.data`, which fetchSockets sends to other nodes). */
const membersOfSockets = new WeakMap<ChatSocket, Member>();

/**
 * The requests besides chat and typing, one line each, in one listener that every socket
 * shares (`this` is the socket that received the event): an idle socket holds no closure
 * for them. `history` and `unread` may come with the ack alone.
 */
function onRequest(this: ChatSocket, event: string, request: unknown, ack: unknown): void {
  const member = membersOfSockets.get(this);
  if (member === undefined) return;
  if (event === 'edit') member.edit(request, answerOf(ack));
  else if (event === 'delete') member.remove(request, answerOf(ack));
  else if (event === 'react') member.react(request, answerOf(ack));
  else if (event === 'read') member.read(request, answerOf(ack));
  else if (event === 'history') typeof request === 'function' ? member.history(undefined, answerOf(request)) : member.history(request, answerOf(ack));
  else if (event === 'unread') member.unread(answerOf(typeof request === 'function' ? request : ack));
  else if (event === 'kick') member.kick(request, answerOf(ack));
  else if (event === 'ban' || event === 'mute') member.ban(event, request, answerOf(ack));
}

/**
 * One Socket.IO socket (a namespace: a room) as its member's wire. A class, so that the
 * many idle sockets of a room share its methods instead of holding closures each.
 */
class SocketWire implements MemberWire {
  constructor(
    private readonly socket: ChatSocket,
    private readonly session: Session,
    private readonly room: Room,
  ) {}

  get open(): boolean {
    return this.socket.connected;
  }

  /**
   * A recovered client (back within RECOVERY_WINDOW_MS) has just been sent what it
   * missed, its own leave included; history again would repeat it. Its return is a join
   * like any other: one leave and one join per drop.
   */
  welcome(join: () => void): void {
    if (!this.socket.recovered) {
      this.socket.emit('history', this.room.recent());
      this.socket.emit('presence', this.room.presenceNow());
    }
    join();
  }

  /**
   * Disconnected, not just closed: `io server disconnect` tells the client not to come
   * back on its own with the same token. Only this room's namespace (the others were
   * joined with tokens of their own), unless it was the last: an expired token keeps no place.
   */
  expire(): void {
    this.socket.disconnect(this.session.roomCount <= 1);
  }

  fields(): Record<string, unknown> {
    const { socket } = this;
    return { transport: 'socket.io', sid: socket.id, ip: this.session.ip, via: socket.conn.transport.name };
  }
}

/**
 * Socket.IO on the shared HTTP server. The namespace is the room: `/` is the lobby, in
 * the same room as the raw clients of `/socket`, and `/<room>` any other room, so one
 * client may be in several rooms over one connection (one Session, a Member per room).
 * It parses the wire into session calls (SessionCore) and writes what they answer.
 */
export class SocketIoTransport {
  readonly io: ChatServer;
  private readonly core: SessionCore;
  private readonly config: Config;
  private readonly localOnly: () => boolean;
  private readonly handshakes: EngineHandshakes;
  private readonly slow: SlowConnections;
  /** Each open Engine.IO connection's session. */
  private readonly sessions = new WeakMap<EngineConnection, Session>();

  constructor(options: SocketIoTransportOptions) {
    const { core, config } = options;
    this.core = core;
    this.config = config;
    this.localOnly = options.localOnly ?? (() => false);
    const fastFrames = options.fastPath ? new FastFrames() : null;
    this.io = createChatServer(options.httpServer, { config, usesJwt: core.credentials.usesJwt, fastFrames, metrics: core.metrics, logger: core.logger });
    const addressOf = (conn: EngineConnection) => this.addressOf(conn);
    this.slow = new SlowConnections(SlowConsumerRule.fromConfig(config), core.metrics, core.logger, addressOf);
    this.handshakes = new EngineHandshakes(this.io, core, config, (conn, session) => {
      if (fastFrames !== null) installFastPath(conn);
      this.sessions.set(conn, session);
      this.slow.add(conn);
    });

    // A name that is no room's is refused by socket.io itself ("Invalid namespace"),
    // before any namespace exists for it.
    const roomNamespaces = this.io.of((name, _auth, next) => next(null, roomOfNamespace(name) !== null)) as ParentNamespace;
    // Child namespaces copy the parent's middlewares and listeners when they are
    // created: everything is set up here, before the first client arrives.
    for (const namespace of [this.io.of('/'), roomNamespaces]) {
      namespace.use((socket, next) => this.checkToken(socket, next));
      namespace.use((socket, next) => this.checkRoom(socket, next));
      namespace.on('connection', (socket) => this.accept(socket));
    }
    const namespaces = new RoomNamespaces({
      io: this.io,
      roomNamespaces,
      localOnly: this.localOnly,
      clustered: options.clustered ?? false,
      fastFrames,
      metrics: core.metrics,
      afterBroadcast: (namespace) => this.slow.afterBroadcast(namespace),
      addressOf,
    });
    core.rooms.addSinks((room) => namespaces.sinkFor(room));
  }

  /** Engine.IO connections (each may be in several rooms). */
  get size(): number {
    return this.io.engine.clientsCount;
  }

  /** A WebSocket upgrade for Socket.IO whose origin the router already accepted. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (this.handshakes.admitUpgrade(req, socket, url)) this.io.engine.handleUpgrade(req, socket, head);
  }

  /**
   * The drain, one ending per client: it closes the client's underlying connection once
   * its pending packets are written, and resolves once it has closed. The client sees
   * "transport close" and reconnects on its own (to another node, or to this one once it
   * is back), with connection state recovery; `socket.disconnect()` would tell it not to.
   */
  endings(): (() => Promise<void>)[] {
    return [...this.slow.all()].map((conn) => () => {
      if (conn.readyState === 'closed') return Promise.resolve();
      const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
      conn.close();
      return closed;
    });
  }

  /** After the drain: whoever has not closed is cut, and Socket.IO is closed. */
  async cut(): Promise<void> {
    this.slow.stop();
    await this.io.close();
  }

  /** The token this namespace's join shows, checked as a raw upgrade's is (socket.io ignores a late `next`). */
  private checkToken(socket: ChatSocket, next: (err?: Error) => void): void {
    const room = roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM;
    const fields = { transport: 'socket.io', ip: this.addressOf(socket.conn), namespace: socket.nsp.name };
    const checked = this.core.credentials.check(authOf(socket).token, room, 'join', fields);
    const pass = (entry: Entry | EntryRefusal) => {
      if (isEntryRefusal(entry)) return next(new Error(entry.error));
      if (entry !== null) socket.data.identity = entry;
      next();
    };
    if (!(checked instanceof Promise)) return pass(checked);
    checked.then(pass).catch((err: unknown) => {
      // As for a raw handshake: a bug past the token check costs this client only.
      this.core.logger.error({ err, ...fields }, 'join failed');
      next(new Error(TokenError.Unauthorized));
    });
  }

  /** Not too many rooms on one connection, and the room in memory (or a place for it). */
  private checkRoom(socket: ChatSocket, next: (err?: Error) => void): void {
    // None when its place went to a newcomer (evicted while unproven): it is not admitted.
    const session = this.sessions.get(socket.conn);
    if (session === undefined) return next(new Error(TokenError.Unauthorized));
    const name = roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM;
    if (this.isBanned(socket, name)) return next(new Error(BANNED));
    const room = session.claimRoom(name);
    if (isRoomRefusal(room)) return next(new Error(room.error));
    socket.once('disconnect', () => session.leaveRoom());
    next();
  }

  /** Whether a ban keeps this socket's user (its token's, else the name it asks for) or address out of `room`; counted. */
  private isBanned(socket: ChatSocket, room: string): boolean {
    return this.core.banned(socket.data.identity ?? null, authOf(socket).name, this.addressOf(socket.conn), room);
  }

  /**
   * The client address of a connection: its session's, found once at its handshake; for
   * one without a session (its place went to a newcomer), found again from the handshake.
   */
  private addressOf(conn: EngineConnection): string {
    return this.sessions.get(conn)?.ip ?? clientAddress(conn.request, this.config);
  }

  private accept(socket: ChatSocket): void {
    const session = this.sessions.get(socket.conn);
    if (session === undefined) {
      socket.disconnect(true);
      return;
    }
    const name = roomOfNamespace(socket.nsp.name) ?? DEFAULT_ROOM;
    // A recovered client skips the middlewares without JWT: its room is claimed here, and
    // a ban made while it was away is checked here.
    if (socket.recovered && !this.core.credentials.usesJwt) {
      if (this.isBanned(socket, name)) {
        socket.emit('kicked', { room: name, reason: BANNED });
        socket.disconnect(true);
        return;
      }
      const claimed = session.claimRoom(name);
      if (isRoomRefusal(claimed)) {
        socket.disconnect(true);
        return;
      }
      socket.once('disconnect', () => session.leaveRoom());
    }
    // Claimed just before; opened again in case its place went meanwhile.
    const room = this.core.rooms.open(name);
    if (room === null) {
      socket.disconnect(true);
      return;
    }
    const member = session.member(room, socket.data.identity ?? null, authOf(socket).name, new SocketWire(socket, session, room));
    socket.data.name = member.name;
    this.listen(socket, member);
    member.enter();
  }

  /** Each client event, one line each: the session decides, the wire answers. */
  private listen(socket: ChatSocket, member: Member): void {
    socket.on('chat', (text: unknown, ack: unknown) => member.post(text, ackReply(ack, member)));
    membersOfSockets.set(socket, member);
    socket.onAny(onRequest);
    // Whatever a client sends along with `typing` is ignored: the name is the session's.
    socket.on('typing', () => {
      if (member.typing()) (this.localOnly() ? socket.broadcast.local : socket.broadcast).volatile.emit('typing', { name: member.name });
    });
    socket.on('disconnect', (reason) => member.leave({ reason }));
  }
}
