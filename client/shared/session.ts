/**
 * A chat session over either wire protocol, with reconnection: what the terminal client
 * and the browser page both stand on. It imports nothing platform-specific; the caller
 * hands in how to open a Socket.IO socket and a WebSocket (`Connectors`), so the same
 * code runs in Node (socket.io-client and `ws`) and in the browser (the served client
 * bundle and the native WebSocket). The two wires are links (socketio-link.ts,
 * raw-link.ts) behind one interface (link.ts).
 */
import { Backoff } from './backoff.js';
import type { Connectors, Link, LinkEvents, RequestKind, Requests } from './link.js';
import { RawLink } from './raw-link.js';
import { SocketIoLink } from './socketio-link.js';
import { checkRoomName } from './urls.js';
import {
  DEFAULT_ROOM,
  TYPING_INTERVAL_MS,
  isDeleted,
  type BanAck,
  type BanRequest,
  type ChatMessage,
  type DeleteAck,
  type EditAck,
  type HistoryAck,
  type HistoryMessage,
  type HistoryRequest,
  type KickAck,
  type KickRequest,
  type Kicked,
  type MessageDelete,
  type MessageEdit,
  type Notice,
  type Presence,
  type RawFormat,
  type Reaction,
  type ReactAck,
  type ReadAck,
  type ReadMarker,
  type Typing,
  type UnreadAck,
} from '../../server/protocol.js';

export { ChatRefusedError, RequestFailure, describeBanRefusal, describeKicked } from './link.js';
export type { ChatSocket, Connectors, RawSocket, RawSocketEvents } from './link.js';

export type TransportKind = 'socket.io' | 'raw';
export type { RawFormat } from '../../server/protocol.js';

/** When to try again after a connection fails or is lost. */
export type RetryPolicy = 'never' | 'once-connected' | 'always';

export type SessionStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected' }
  /** Lost or failed; the next attempt starts in `delayMs`. */
  | { state: 'reconnecting'; attempt: number; delayMs: number; reason: string }
  /** Given up (per the retry policy); nothing more will happen. */
  | { state: 'failed'; reason: string }
  | { state: 'closed' };

/**
 * What a session hands on. Edits, deletes, reactions and read markers come from Socket.IO
 * and raw JSON; raw text (seed) mode has none of them.
 */
export interface SessionHandlers {
  status(status: SessionStatus): void;
  chat(message: ChatMessage): void;
  /** `own` is true for this client's own join, which carries the name the server gave it. */
  notice(notice: Notice, own: boolean): void;
  /**
   * Socket.IO only: the recent messages, oldest first, that say something this session has
   * not handed on yet. That is a message it has not seen, and also one it has seen that
   * changed while it was away: a tombstone (deleted) or a newer `version` (edited). Those
   * repeat an id already shown: show them in its place.
   */
  history(messages: HistoryMessage[]): void;
  /**
   * Socket.IO only, after `history` on every (re)connection: who is in the room. The join
   * and leave notices that follow keep it current (see shared/presence.ts).
   */
  presence(presence: Presence): void;
  /** Socket.IO only. */
  typing(who: Typing): void;
  /** Raw only: a line to show as it came (seed mode: every frame; JSON mode: a frame that is not JSON, and the "history is incomplete" notice of a resume). */
  seedFrame(text: string): void;
  /** A message was edited: its new text, `version` and `editedAt`. */
  edited?(edit: MessageEdit): void;
  /** A message was deleted (also: a raw JSON replay's tombstone of a message this session had seen). */
  deleted?(deleted: MessageDelete): void;
  /** A message's count of one emoji changed (0: none left). */
  reaction?(reaction: Reaction): void;
  /** Someone's read marker moved (this client's own included). */
  read?(marker: ReadMarker): void;
  /**
   * A moderator ended this client's connection to the room: a kick, or a ban (`reason`
   * BANNED). The session ends right after, status `failed` (see SessionOptions.retry).
   */
  kicked?(kicked: Kicked): void;
}

export interface SessionOptions {
  /** The server's address (http, https, ws or wss); only its origin is used. */
  url: string;
  transport: TransportKind;
  name?: string | undefined;
  /** Default: the lobby. A malformed name throws a RangeError from the constructor. */
  room?: string | undefined;
  rawFormat?: RawFormat;
  /**
   * The token the server asks for (CHAT_TOKEN, or a JWT): `auth.token` over Socket.IO,
   * `?token=` on the raw endpoint. A refusal (unauthorized, forbidden) or its expiry ends
   * the session whatever the retry policy: trying again with the same token is pointless.
   */
  token?: string | undefined;
  /**
   * When to try again. Whatever it says, some ends are final: a refused or expired token,
   * a malformed room, any disconnect the server chose (Socket.IO `io server disconnect`),
   * and moderation. A ban (`connect_error` or raw 403 `banned`, raw close 4003) would be
   * refused again. A kick (raw close 4001, Socket.IO `kicked`) may be followed by a new
   * session, since the user may come back, but not by this one on its own, which would
   * make the kick a blink nobody notices.
   */
  retry: RetryPolicy;
  connectors: Connectors;
  handlers: SessionHandlers;
  backoff?: Backoff;
}

/** How many message ids a session remembers to drop repeats (history after a reconnect). */
const REMEMBERED_IDS = 10_000;

/** What a session last handed on of a message: its version (0: never edited), or that it is gone. */
const GONE = Number.POSITIVE_INFINITY;
const stateOf = (message: HistoryMessage): number => (isDeleted(message) ? GONE : (message.version ?? 0));

/**
 * Connects on `start()`, says what it is doing through `handlers.status`, reconnects with
 * backoff as the retry policy allows, and hands every event to `handlers` once (a message
 * repeated unchanged in the history after a reconnect is dropped).
 */
export class ChatSession {
  private readonly link: Link;
  private readonly backoff: Backoff;
  /** Message id -> what was handed on of it (stateOf), oldest entry first. */
  private readonly seen = new Map<string, number>();
  private everConnected = false;
  private awaitingOwnJoin = false;
  private ownName: string | undefined;
  private ownUser: string | undefined;
  private finished = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTypingAt = -Infinity;
  /** The room this session is in; fixed for its lifetime (another room is another session). */
  readonly room: string;

  constructor(private readonly options: SessionOptions) {
    this.room = options.room ?? DEFAULT_ROOM;
    checkRoomName(this.room);
    this.backoff = options.backoff ?? new Backoff();
    const { handlers } = options;
    const events: LinkEvents = {
      opened: () => this.onOpened(),
      lost: (reason, final) => this.onLost(reason, final),
      chat: (message) => {
        if (!isDeleted(message)) {
          if (this.fresh(message)) handlers.chat(message);
          return;
        }
        // A replayed tombstone: news only where the message was shown.
        const shown = this.seen.has(message.id);
        if (this.fresh(message) && shown) handlers.deleted?.({ id: message.id });
      },
      notice: (notice) => this.onNotice(notice),
      history: (messages) => handlers.history(messages.filter((m) => this.fresh(m))),
      presence: (presence) => handlers.presence(presence),
      typing: (who) => handlers.typing(who),
      seedFrame: (text) => handlers.seedFrame(text),
      edited: (edit) => {
        this.note(edit.id, Math.max(edit.version, this.seen.get(edit.id) ?? 0));
        handlers.edited?.(edit);
      },
      deleted: (deleted) => {
        this.note(deleted.id, GONE);
        handlers.deleted?.(deleted);
      },
      reaction: (reaction) => handlers.reaction?.(reaction),
      read: (marker) => handlers.read?.(marker),
      kicked: (kicked) => {
        if (!this.finished) handlers.kicked?.(kicked);
      },
    };
    this.link =
      options.transport === 'socket.io'
        ? new SocketIoLink(
            options.connectors.socketIo(options.url, options.name, this.room, options.token),
            options.connectors,
            events,
            { room: this.room, token: options.token },
          )
        : new RawLink({ ...options, room: this.room }, events);
  }

  /** The name the server gave this client, once its join notice has arrived. */
  get name(): string | undefined {
    return this.ownName;
  }

  /** With JWT, the user the server knows this client as (its token's `sub`), once its join notice has arrived. */
  get user(): string | undefined {
    return this.ownUser;
  }

  start(): void {
    this.options.handlers.status({ state: 'connecting', attempt: 0 });
    this.link.open();
  }

  /**
   * Sends a chat message. Resolves with its id, from the server's ack (Socket.IO, and raw
   * JSON mode, which asks for acks with `?ack=1`); raw seed mode has no ids and resolves
   * with undefined once the frame is sent. Rejects with ChatRefusedError when the server
   * refuses it. While disconnected, the message waits for the next connection.
   */
  send(text: string): Promise<string | undefined> {
    if (this.finished) return Promise.reject(new Error('the session is closed'));
    return this.link.send(text);
  }

  /** Edits one of this client's messages (with JWT: this user's). The room gets `edit`, this session too. */
  edit(id: string, text: string): Promise<EditAck> {
    return this.request('edit', { id, text });
  }

  /** Deletes a message: one's own, or any as a moderator. The room gets `delete`, this session too. */
  deleteMessage(id: string): Promise<DeleteAck> {
    return this.request('delete', { id });
  }

  /** Adds (`on`) or takes back this user's reaction `emoji` to a message; resolves with its count. */
  react(id: string, emoji: string, on: boolean): Promise<ReactAck> {
    return this.request('react', { id, emoji, on });
  }

  /**
   * A page of history, oldest first: up to `limit` (server default 50, at most
   * MAX_HISTORY_PAGE) messages before message `before` (default: the newest), tombstones
   * included; `more` says whether older ones exist. The page goes to the caller alone, not
   * to the handlers, and is remembered so that a later `history` does not repeat it.
   */
  async older(before?: string, limit?: number): Promise<HistoryAck> {
    const request: HistoryRequest = {};
    if (before !== undefined) request.before = before;
    if (limit !== undefined) request.limit = limit;
    const page = await this.request('history', request);
    if (page.ok) {
      for (const message of page.messages) {
        const known = this.seen.get(message.id);
        if (known === undefined || known < stateOf(message)) this.note(message.id, stateOf(message));
      }
    }
    return page;
  }

  /** Moves this user's read marker in the room to message `id` (never backwards). The room gets `read`. */
  markRead(id: string): Promise<ReadAck> {
    return this.request('read', { id });
  }

  /** This user's rooms with a read marker, and how many messages are unread in each. */
  unread(): Promise<UnreadAck> {
    return this.request('unread', {});
  }

  /**
   * Moderators (a JWT with `role: "moderator"` for this room, or `"admin"`), over Socket.IO
   * only (the raw endpoint rejects, RequestFailure.RawEndpoint): ends `user`'s connections
   * to this room on every node; `connections` says how many.
   */
  kick(user: string, reason?: string): Promise<KickAck> {
    const request: KickRequest = { user };
    if (reason !== undefined) request.reason = reason;
    return this.request('kick', request);
  }

  /** Moderators, over Socket.IO: bans a user or an address (this room unless `room` says otherwise). */
  ban(request: BanRequest): Promise<BanAck> {
    return this.request('ban', request);
  }

  /** Moderators, over Socket.IO: mutes a user or an address: they may read, not post. */
  mute(request: BanRequest): Promise<BanAck> {
    return this.request('mute', request);
  }

  /** Tells the others that this user is typing, at most once per TYPING_INTERVAL_MS. */
  typing(): void {
    const now = Date.now();
    if (now - this.lastTypingAt < TYPING_INTERVAL_MS) return;
    this.lastTypingAt = now;
    this.link.typing();
  }

  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.retryTimer);
    await this.link.close();
    this.options.handlers.status({ state: 'closed' });
  }

  /**
   * Resolves with the server's answer, `{ ok: false, error }` for a refusal. Rejects (see
   * RequestFailure) when not connected, when closed or disconnected before the answer, in
   * raw text mode, which has no requests, and for moderation over the raw endpoint.
   */
  private request<K extends RequestKind>(kind: K, body: Requests[K]['request']): Promise<Requests[K]['ack']> {
    if (this.finished) return Promise.reject(new Error('the session is closed'));
    return this.link.request(kind, body);
  }

  private onOpened(): void {
    if (this.finished) return;
    this.everConnected = true;
    this.awaitingOwnJoin = true;
    this.backoff.reset();
    this.options.handlers.status({ state: 'connected' });
  }

  private onLost(reason: string, final: boolean): void {
    if (this.finished) return;
    const { retry } = this.options;
    if (final || retry === 'never' || (retry === 'once-connected' && !this.everConnected)) {
      this.finished = true;
      // Reported before the link rejects what is still unsent, so that the reason is heard first.
      this.options.handlers.status({ state: 'failed', reason });
      void this.link.close();
      return;
    }
    const delayMs = this.backoff.next();
    this.options.handlers.status({ state: 'reconnecting', attempt: this.backoff.attempts, delayMs, reason });
    this.retryTimer = setTimeout(() => {
      this.options.handlers.status({ state: 'connecting', attempt: this.backoff.attempts });
      this.link.open();
    }, delayMs);
  }

  /** The first join after connecting is this client's own: the server announces it to the newcomer first. */
  private onNotice(notice: Notice): void {
    const own = this.awaitingOwnJoin && notice.kind === 'join';
    if (own) {
      this.awaitingOwnJoin = false;
      this.ownName = notice.name;
      this.ownUser = notice.user;
    }
    this.options.handlers.notice(notice, own);
  }

  /**
   * Whether `message` tells this session something new: an id it has not handed on, or a
   * later state of one it has (a newer version, a tombstone). Remembers it either way.
   */
  private fresh(message: HistoryMessage): boolean {
    const before = this.seen.get(message.id);
    const now = stateOf(message);
    if (before !== undefined && before >= now) return false;
    this.note(message.id, now);
    return true;
  }

  /** Remembers what was handed on of message `id`, forgetting the oldest past REMEMBERED_IDS. */
  private note(id: string, state: number): void {
    this.seen.set(id, state);
    if (this.seen.size > REMEMBERED_IDS) {
      const oldest = this.seen.keys().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
  }
}
