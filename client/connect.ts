/**
 * Connecting from Node: the typed Socket.IO helper for scripts, and the connectors the
 * terminal client hands to its ChatSession.
 */
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import WebSocket from 'ws';
import {
  SOCKET_IO_PATH,
  type BanAck,
  type BanRequest,
  type ClientAuth,
  type DeleteAck,
  type EditAck,
  type HistoryAck,
  type HistoryRequest,
  type KickAck,
  type KickRequest,
  type ReactAck,
  type ReadAck,
  type UnreadAck,
} from '../server/protocol';
import type { Connection } from './args';
import {
  ChatSession,
  type ChatSocket,
  type Connectors,
  type RawSocket,
  type RawSocketEvents,
  type RetryPolicy,
  type SessionHandlers,
} from './shared/session';
import { socketIoRoomUrl } from './shared/urls';

export type { ChatSocket } from './shared/session';

export interface ConnectChatOptions extends Partial<ManagerOptions & SocketOptions> {
  /**
   * Display name. The server drops control characters, trims it and cuts it at 32
   * characters; without one it picks `guest-xxxx`.
   */
  name?: string | undefined;
  /**
   * The room to join (default the lobby): its namespace. Sockets for several rooms made
   * without `forceNew` share one connection. A malformed name throws a RangeError here.
   */
  room?: string | undefined;
  /**
   * The token the server asks for (its CHAT_TOKEN, or a JWT), sent as `auth.token`. A
   * refusal comes as `connect_error` with message `unauthorized` (missing or wrong) or
   * `forbidden` (not for this room).
   */
  token?: string | undefined;
}

/** How long a connection attempt may take before it counts as failed. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** socket.io-client's jitter on each reconnection delay, as a share of the step: 1 is its widest. */
export const RECONNECT_RANDOMIZATION = 1;

/**
 * How long each of connectChat's actions waits for the server's answer before it rejects
 * ("operation has timed out"). The wait includes any time without a connection:
 * socket.io-client keeps what is emitted meanwhile and sends it once connected.
 */
export const ACK_TIMEOUT_MS = 10_000;

/**
 * The requests besides chat, each resolving with the server's ack: `{ ok: true, ... }`, or
 * `{ ok: false, error }` (ActionError) for a refusal. They reject only when no answer came
 * within ACK_TIMEOUT_MS, or the connection ended before it.
 */
export interface ChatActions {
  /** Edits a message of this connection's (with JWT: this user's) -> `{ ok, version }`. */
  edit(id: string, text: string): Promise<EditAck>;
  /** Deletes a message (the author's, or any for a moderator). */
  deleteMessage(id: string): Promise<DeleteAck>;
  /** Adds this user's `emoji` to a message (`on`, the default) or takes it back -> `{ ok, count }`. */
  react(id: string, emoji: string, on?: boolean): Promise<ReactAck>;
  /** Up to `limit` (1-200, default 50) messages before `before` (default: the newest), oldest first -> `{ ok, messages, more }`. */
  older(before?: string, limit?: number): Promise<HistoryAck>;
  /** Moves this user's read marker in the room to `id` (never backwards). */
  markRead(id: string): Promise<ReadAck>;
  /** This user's rooms with a read marker and their unread counts -> `{ ok, rooms }`. */
  unread(): Promise<UnreadAck>;
  /**
   * Moderators (a JWT with `role: "moderator"` for this room, or `"admin"`): ends every
   * connection of `user` (a token's `sub`) to this room, on every node -> `{ ok, connections }`.
   * They hear `kicked` `{ room, reason }`, then are disconnected; they may come back.
   */
  kick(user: string, reason?: string): Promise<KickAck>;
  /**
   * Moderators: bans `user` or `ip` from this room (`room` absent), another room the token
   * allows, or (admins) every room (`room: null`); until `until` (epoch ms) or for good ->
   * `{ ok, ban }`. Their connections end at once (`kicked`, reason `banned`), and their
   * handshakes are refused (`connect_error` `banned`) until it ends or is lifted.
   */
  ban(request: BanRequest): Promise<BanAck>;
  /** Moderators: like `ban`, but they stay and may read; their chats are refused (`muted`). */
  mute(request: BanRequest): Promise<BanAck>;
}

/** A socket.io-client socket of the chat, with ChatActions on it. */
export type ChatClient = ChatSocket & ChatActions;

/**
 * A Socket.IO client of the chat server at `url` (http, https, ws or wss; any path is
 * ignored, since socket.io-client would take it for a namespace), in `room` (default the
 * lobby), typed with the shared event maps, with ChatActions added. It connects over
 * WebSocket only: Node has no use for the long-polling fallback, and its errors say more.
 * It reconnects by itself (socket.io-client's reconnection) with `randomizationFactor: 1`,
 * the widest jitter socket.io-client offers (each delay anywhere from 0 to twice the
 * step, where its default 0.5 keeps within half a step either side), so that the clients
 * of a restarting node do not all come back at once. Other socket.io-client options,
 * `randomizationFactor` included, pass through.
 *
 *     const socket = connectChat('http://localhost:8000', { name: 'bot', room: 'ops', token });
 *     socket.on('chat', (m) => console.log(`${m.name}: ${m.text}`));
 *     socket.on('edit', (e) => console.log(`${e.id} now reads ${e.text}`));
 *     const ack = await socket.emitWithAck('chat', 'hello');
 *     if (ack.ok) {
 *       await socket.edit(ack.id, 'hello, world'); // { ok: true, version: 1 }
 *       await socket.react(ack.id, '👍'); // { ok: true, count: 1 }
 *       const page = await socket.older(ack.id, 20); // { ok: true, messages, more }
 *     }
 *     // With a moderator's token:
 *     await socket.kick('user-42', 'spam'); // { ok: true, connections: 1 }
 *     await socket.mute({ user: 'user-42', until: Date.now() + 600_000 }); // { ok: true, ban }
 */
export function connectChat(url: string, options: ConnectChatOptions = {}): ChatClient {
  const { name, room, token, ...rest } = options;
  const auth: ClientAuth = {};
  if (name !== undefined) auth.name = name;
  if (token !== undefined) auth.token = token;
  const socket: ChatSocket = io(socketIoRoomUrl(url, room), {
    path: SOCKET_IO_PATH,
    transports: ['websocket'],
    timeout: CONNECT_TIMEOUT_MS,
    randomizationFactor: RECONNECT_RANDOMIZATION,
    auth,
    ...rest,
  });
  return Object.assign(socket, chatActions(socket));
}

/** ChatActions over `socket`: socket.io-client's Socket has no members of these names. */
function chatActions(socket: ChatSocket): ChatActions {
  const timed = () => socket.timeout(ACK_TIMEOUT_MS);
  return {
    edit: (id, text) => timed().emitWithAck('edit', { id, text }),
    deleteMessage: (id) => timed().emitWithAck('delete', { id }),
    react: (id, emoji, on = true) => timed().emitWithAck('react', { id, emoji, on }),
    older: (before, limit) => {
      const request: HistoryRequest = {};
      if (before !== undefined) request.before = before;
      if (limit !== undefined) request.limit = limit;
      return timed().emitWithAck('history', request);
    },
    markRead: (id) => timed().emitWithAck('read', { id }),
    unread: () => timed().emitWithAck('unread'),
    kick: (user, reason) => {
      const request: KickRequest = { user };
      if (reason !== undefined) request.reason = reason;
      return timed().emitWithAck('kick', request);
    },
    ban: (request) => timed().emitWithAck('ban', request),
    mute: (request) => timed().emitWithAck('mute', request),
  };
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running?)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * One line saying why a connection attempt failed, from a `ws` error or a socket.io-client
 * `connect_error` (whose `description` carries the `ws` error event).
 */
export function describeConnectError(err: unknown): string {
  const inner = (err as { description?: { error?: unknown } } | undefined)?.description?.error ?? err;
  const code = (inner as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code in NETWORK_ERRORS) return `cannot connect: ${NETWORK_ERRORS[code]}`;
  const message = inner instanceof Error ? inner.message : String(inner);
  const status = /Unexpected server response: (\d+)/.exec(message);
  if (status !== null) return `the server refused the connection (HTTP ${status[1]})`;
  if (message === 'timeout') return `cannot connect: no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
  return `cannot connect: ${message}`;
}

/** How much of a refused upgrade's body is read: enough for the server's one-line reasons. */
const REFUSAL_BODY_CHARS = 512;

/** How long closing may wait for the server's close frame before the socket is cut. */
const CLOSE_TIMEOUT_MS = 2_000;

/** The raw endpoint's WebSocket from Node; `localAddress`: the address to connect from (default: the system's choice). */
export function openWebSocket(url: string, events: RawSocketEvents, localAddress?: string): RawSocket {
  const ws = new WebSocket(url, { handshakeTimeout: CONNECT_TIMEOUT_MS, perMessageDeflate: false, ...(localAddress === undefined ? {} : { localAddress }) });
  const closed = new Promise<void>((resolve) => {
    ws.on('close', (code, reason) => {
      events.close(code, reason.toString());
      resolve();
    });
  });
  ws.on('open', () => events.open());
  ws.on('message', (data, isBinary) => {
    if (!isBinary) events.message(String(data));
  });
  ws.on('unexpected-response', (_req, res) => {
    // The body says why (a 403 may be a ban or a token's rooms): read its start, then give up.
    let body = '';
    let told = false;
    const tell = () => {
      if (told) return;
      told = true;
      events.error(`the server refused the connection (HTTP ${res.statusCode ?? '?'})`, res.statusCode, body);
      ws.terminate();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (body.length < REFUSAL_BODY_CHARS) body += chunk.slice(0, REFUSAL_BODY_CHARS - body.length);
      if (body.length >= REFUSAL_BODY_CHARS) tell();
    });
    res.once('end', tell);
    res.once('close', tell);
    res.once('error', tell);
  });
  ws.on('error', (err) => events.error(describeConnectError(err)));
  return {
    send: (text) =>
      new Promise<void>((resolve, reject) => {
        ws.send(text, (err) => (err ? reject(err) : resolve()));
      }),
    close: () => {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      ws.close();
      const timer = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS);
      return closed.finally(() => clearTimeout(timer));
    },
  };
}

/** Socket.IO through connectChat, raw WebSocket through `ws`. */
export const nodeConnectors: Connectors = {
  socketIo: (url, name, room, token) =>
    connectChat(url, { name, room, token, autoConnect: false, reconnection: false, forceNew: true }),
  webSocket: (url, events) => openWebSocket(url, events),
  describeError: describeConnectError,
};

/** A ChatSession from Node, not started yet. */
export function nodeSession(connection: Connection, retry: RetryPolicy, handlers: SessionHandlers): ChatSession {
  return new ChatSession({ ...connection, retry, connectors: nodeConnectors, handlers });
}
