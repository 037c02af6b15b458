/**
 * A chat session over either wire protocol, with reconnection: what the terminal client
 * and the browser page both stand on. It imports nothing platform-specific; the caller
 * hands in how to open a Socket.IO socket and a WebSocket (`Connectors`), so the same
 * code runs in Node (socket.io-client and `ws`) and in the browser (the served client
 * bundle and the native WebSocket).
 */
import type { Socket } from 'socket.io-client';
import { Backoff } from './backoff.js';
import { TOKEN_EXPIRED, describeRoomRefusal, describeTokenRefusal, tokenExpired } from './format.js';
import { checkRoomName, rawSocketUrl } from './urls.js';
import {
  CloseCode,
  CloseReason,
  DEFAULT_ROOM,
  RoomError,
  TokenError,
  TYPING_INTERVAL_MS,
  type ChatAck,
  type ChatMessage,
  type ClientToServerEvents,
  type Notice,
  type Presence,
  type RawFormat,
  type RawAckFrame,
  type RawJsonFrame,
  type ServerToClientEvents,
  type Typing,
} from '../../server/protocol.js';

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

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

export interface SessionHandlers {
  status(status: SessionStatus): void;
  chat(message: ChatMessage): void;
  /** `own` is true for this client's own join, which carries the name the server gave it. */
  notice(notice: Notice, own: boolean): void;
  /** Socket.IO only: the recent messages this session had not seen yet, oldest first. */
  history(messages: ChatMessage[]): void;
  /**
   * Socket.IO only, after `history` on every (re)connection: who is in the room. The join
   * and leave notices that follow keep it current (see shared/presence.ts).
   */
  presence(presence: Presence): void;
  /** Socket.IO only. */
  typing(who: Typing): void;
  /** Raw seed mode only: a frame exactly as the seed server would send it. */
  seedFrame(text: string): void;
}

/** Callbacks of a WebSocket opened through `Connectors.webSocket`. */
export interface RawSocketEvents {
  open(): void;
  message(text: string): void;
  /**
   * A reason a person can read; `close` follows. `status`: the HTTP status the server
   * answered the upgrade with, where the platform tells (Node does, a browser does not).
   */
  error(reason: string, status?: number): void;
  close(code: number, reason: string): void;
}

export interface RawSocket {
  /** Resolves once the frame is handed to the network. */
  send(text: string): Promise<void>;
  /** Resolves when the socket is closed (or given up on). */
  close(): Promise<void>;
}

/** How this platform opens connections. */
export interface Connectors {
  /**
   * A typed Socket.IO socket for `room` on the server at `url`, created with autoConnect
   * and reconnection off, showing `token` (if any) as `auth.token`.
   */
  socketIo(url: string, name: string | undefined, room: string, token?: string | undefined): ChatSocket;
  webSocket(url: string, events: RawSocketEvents): RawSocket;
  /** One line saying why a Socket.IO connection attempt failed. */
  describeError(err: unknown): string;
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
  retry: RetryPolicy;
  connectors: Connectors;
  handlers: SessionHandlers;
  backoff?: Backoff;
}

/** The server answered a `chat` with `{ ok: false, error }`. */
export class ChatRefusedError extends Error {
  constructor(readonly code: string) {
    super(`the server refused the message: ${code}`);
    this.name = 'ChatRefusedError';
  }
}

/** How many message ids a session remembers to drop repeats (history after a reconnect). */
const REMEMBERED_IDS = 10_000;

/** What a session needs of either transport. */
interface Link {
  open(): void;
  send(text: string): Promise<string | undefined>;
  typing(): void;
  close(): Promise<void>;
}

/** What a link reports to its session. */
interface LinkEvents {
  opened(): void;
  /** `final`: the server ended it on purpose; do not retry. */
  lost(reason: string, final: boolean): void;
  chat(message: ChatMessage): void;
  notice(notice: Notice): void;
  history(messages: ChatMessage[]): void;
  presence(presence: Presence): void;
  typing(who: Typing): void;
  seedFrame(text: string): void;
}

/**
 * Connects on `start()`, says what it is doing through `handlers.status`, reconnects with
 * backoff as the retry policy allows, and hands every event to `handlers` once (a message
 * repeated in the history after a reconnect is dropped).
 */
export class ChatSession {
  private readonly link: Link;
  private readonly backoff: Backoff;
  private readonly seen = new Set<string>();
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
    const events: LinkEvents = {
      opened: () => this.onOpened(),
      lost: (reason, final) => this.onLost(reason, final),
      chat: (message) => {
        if (this.remember(message.id)) options.handlers.chat(message);
      },
      notice: (notice) => this.onNotice(notice),
      history: (messages) => options.handlers.history(messages.filter((m) => this.remember(m.id))),
      presence: (presence) => options.handlers.presence(presence),
      typing: (who) => options.handlers.typing(who),
      seedFrame: (text) => options.handlers.seedFrame(text),
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
   * with undefined once the frame is sent. Rejects with ChatRefusedError when the server refuses it. While disconnected,
   * the message waits for the next connection.
   */
  send(text: string): Promise<string | undefined> {
    if (this.finished) return Promise.reject(new Error('the session is closed'));
    return this.link.send(text);
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

  /** False if the id was seen before. */
  private remember(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > REMEMBERED_IDS) {
      const oldest = this.seen.values().next();
      if (oldest.done !== true) this.seen.delete(oldest.value);
    }
    return true;
  }
}

const DISCONNECT_REASONS: Record<string, string> = {
  'transport close': 'the server closed the connection',
  'transport error': 'the connection failed',
  'ping timeout': 'the server stopped answering',
  'parse error': 'the server sent something unreadable',
  'io server disconnect': 'the server disconnected this client',
};

/** Socket.IO, with its own reconnection off: the session retries, so both transports behave alike. */
class SocketIoLink implements Link {
  /** Rejecters of the messages still waiting for their ack. */
  private readonly unacked = new Set<(err: Error) => void>();

  constructor(
    private readonly socket: ChatSocket,
    connectors: Connectors,
    events: LinkEvents,
    { room, token }: { room: string; token: string | undefined },
  ) {
    socket.on('connect', () => events.opened());
    socket.on('connect_error', (err) => {
      // The same token would be refused again: final.
      if (err.message === TokenError.Unauthorized || err.message === TokenError.Forbidden) {
        events.lost(describeTokenRefusal(err.message, room, token), true);
        return;
      }
      const refusal = describeRoomRefusal(err.message);
      // A malformed room stays malformed: trying again would only be refused again. A full
      // server may have room later, so room_limit is retried like any other failure.
      if (refusal !== undefined) events.lost(refusal, err.message === RoomError.InvalidRoom);
      else events.lost(connectors.describeError(err), false);
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      // The server gives no reason beyond `io server disconnect`; a token past its `exp` is one.
      if (reason === 'io server disconnect' && token !== undefined && tokenExpired(token)) {
        events.lost(TOKEN_EXPIRED, true);
        return;
      }
      // After a server-side disconnect() socket.io-client does not come back on its own
      // either: the server meant it.
      events.lost(DISCONNECT_REASONS[reason] ?? reason, reason === 'io server disconnect');
    });
    socket.on('chat', (message) => events.chat(message));
    socket.on('notice', (notice) => events.notice(notice));
    socket.on('history', (messages) => events.history(messages));
    socket.on('presence', (presence) => events.presence(presence));
    socket.on('typing', (who) => events.typing(who));
  }

  open(): void {
    this.socket.connect();
  }

  /** socket.io-client buffers what is emitted while disconnected and sends it on reconnection. */
  send(text: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.unacked.add(reject);
      this.socket.emit('chat', text, (ack: ChatAck) => {
        this.unacked.delete(reject);
        if (ack.ok) resolve(ack.id);
        else reject(new ChatRefusedError(ack.error));
      });
    });
  }

  typing(): void {
    // Not buffered: a typing hint that arrives after a reconnection is stale.
    if (this.socket.connected) this.socket.emit('typing');
  }

  close(): Promise<void> {
    this.socket.disconnect();
    for (const reject of this.unacked) reject(new Error('closed before the server answered'));
    this.unacked.clear();
    return Promise.resolve();
  }
}

interface Outgoing {
  text: string;
  resolve(id: string | undefined): void;
  reject(err: Error): void;
}

/**
 * The raw endpoint. In JSON mode the session asks for acks (`?ack=1`): the server answers
 * each frame this connection sent, to it alone and in its order, with the message's id;
 * the k-th ack is the k-th frame's. Matching an echo by name and text instead would mix
 * up two connections with the same name sending the same text (two tabs).
 * Messages go out once the server has let this connection into its room (its first join
 * notice): before that, the server would drop them.
 */
class RawLink implements Link {
  private socket: RawSocket | undefined;
  /** Frames sent now reach the room. */
  private ready = false;
  /** Waiting for a connection. */
  private readonly queued: Outgoing[] = [];
  /** JSON mode: sent, waiting for the ack. */
  private readonly unacked: Outgoing[] = [];
  private readonly format: RawFormat;

  constructor(
    private readonly options: SessionOptions,
    private readonly events: LinkEvents,
  ) {
    this.format = options.rawFormat ?? 'text';
  }

  open(): void {
    const json = this.format === 'json';
    const url = rawSocketUrl(
      this.options.url,
      { name: this.options.name, format: json ? 'json' : undefined, ack: json ? '1' : undefined, token: this.options.token },
      this.options.room,
    );
    let failure: string | undefined;
    let status: number | undefined;
    const socket: RawSocket = this.options.connectors.webSocket(url, {
      open: () => {
        if (socket !== this.socket) return;
        this.events.opened();
        // Seed mode has no way to tell when the server has joined it: it sends at once, as ever.
        if (!json) this.becomeReady();
      },
      message: (text) => {
        if (socket === this.socket) this.onFrame(text);
      },
      error: (reason, httpStatus) => {
        failure ??= reason;
        status ??= httpStatus;
      },
      close: (code, reason) => {
        if (socket !== this.socket) return;
        this.socket = undefined;
        this.ready = false;
        this.failAll(this.unacked, 'the connection was lost before the server answered');
        const tokenRefusal = status === 401 ? TokenError.Unauthorized : status === 403 ? TokenError.Forbidden : undefined;
        if (tokenRefusal !== undefined) {
          this.events.lost(describeTokenRefusal(tokenRefusal, this.options.room ?? DEFAULT_ROOM, this.options.token), true);
        } else if (code === CloseCode.PolicyViolation && reason === CloseReason.TokenExpired) {
          this.events.lost(TOKEN_EXPIRED, true);
        } else {
          this.events.lost(failure ?? describeClose(code, reason), false);
        }
      },
    });
    this.socket = socket;
  }

  send(text: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.queued.push({ text, resolve, reject });
      if (this.ready) this.flush();
    });
  }

  typing(): void {
    // The raw endpoint has no typing event: every frame is a chat message.
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.ready = false;
    this.failAll(this.queued, 'closed before the message was sent');
    this.failAll(this.unacked, 'closed before the server answered');
    return socket?.close() ?? Promise.resolve();
  }

  private becomeReady(): void {
    this.ready = true;
    this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    for (const out of this.queued.splice(0)) {
      if (this.format === 'json') this.unacked.push(out);
      socket.send(out.text).then(
        () => {
          if (this.format === 'text') out.resolve(undefined);
        },
        (err: unknown) => out.reject(err instanceof Error ? err : new Error(String(err))),
      );
    }
  }

  private onFrame(text: string): void {
    if (this.format === 'text') {
      this.events.seedFrame(text);
      return;
    }
    const frame = parseJsonFrame(text);
    if (frame === null) {
      this.events.seedFrame(text);
      return;
    }
    if (frame.type === 'ack') {
      const out = this.unacked.shift();
      if (out === undefined) return; // not ours to answer: nothing waits for it
      if ('id' in frame) out.resolve(frame.id);
      else out.reject(new Error('the server had not let this connection into the room yet'));
      return;
    }
    if (frame.type === 'notice') {
      const { type: _type, ...notice } = frame;
      // The first join after connecting means the server has joined this connection
      // (its own join, or one announced just before it).
      if (!this.ready && notice.kind === 'join') this.becomeReady();
      this.events.notice(notice);
      return;
    }
    const { type: _type, ...message } = frame;
    this.events.chat(message);
  }

  private failAll(list: Outgoing[], why: string): void {
    for (const out of list.splice(0)) out.reject(new Error(why));
  }
}

function parseJsonFrame(text: string): RawJsonFrame | RawAckFrame | null {
  try {
    const frame = JSON.parse(text) as unknown;
    if (typeof frame !== 'object' || frame === null) return null;
    const type = (frame as { type?: unknown }).type;
    return type === 'chat' || type === 'notice' || type === 'ack' ? (frame as RawJsonFrame | RawAckFrame) : null;
  } catch {
    return null; // not JSON: shown as it came
  }
}

function describeClose(code: number, reason: string): string {
  if (code === 1001) return `the server is going away${reason ? ` (${reason})` : ''}`;
  if (code === 1006) return 'the connection dropped';
  return `the server closed the connection (${code}${reason ? ` ${reason}` : ''})`;
}
