/**
 * The seam between a ChatSession (session.ts) and the wire it runs on: what the session
 * needs of a link (socketio-link.ts, raw-link.ts), what a link reports back, and how a
 * platform opens connections (`Connectors`: Node and the browser each hand in their own).
 */
import type { Socket } from 'socket.io-client';
import { BANNED } from '../../server/protocol.js';
import type {
  BanAck,
  BanRequest,
  ClientToServerEvents,
  DeleteAck,
  DeleteRequest,
  EditAck,
  EditRequest,
  HistoryAck,
  HistoryMessage,
  HistoryRequest,
  KickAck,
  Kicked,
  KickRequest,
  MessageDelete,
  MessageEdit,
  Notice,
  Presence,
  Reaction,
  ReactAck,
  ReactRequest,
  ReadAck,
  ReadMarker,
  ReadRequest,
  ServerToClientEvents,
  Typing,
  UnreadAck,
} from '../../server/protocol.js';

export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Callbacks of a WebSocket opened through `Connectors.webSocket`. */
export interface RawSocketEvents {
  open(): void;
  message(text: string): void;
  /**
   * A reason a person can read; `close` follows. `status` and `body`: the HTTP status the
   * server answered the upgrade with and the start of its plain-text body, where the
   * platform tells (Node does, a browser does not).
   */
  error(reason: string, status?: number, body?: string): void;
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

/**
 * The requests besides chat, each answered by the server alone to its sender: the key is
 * both the Socket.IO event and the raw JSON frame's `type`.
 */
export interface Requests {
  edit: { request: EditRequest; ack: EditAck };
  delete: { request: DeleteRequest; ack: DeleteAck };
  react: { request: ReactRequest; ack: ReactAck };
  history: { request: HistoryRequest; ack: HistoryAck };
  read: { request: ReadRequest; ack: ReadAck };
  unread: { request: Record<string, never>; ack: UnreadAck };
  kick: { request: KickRequest; ack: KickAck };
  ban: { request: BanRequest; ack: BanAck };
  mute: { request: BanRequest; ack: BanAck };
}
export type RequestKind = keyof Requests;
export type AnyAck = Requests[RequestKind]['ack'];

/** Why a request rejects (a refusal by the server resolves instead, `{ ok: false }`). */
export const RequestFailure = {
  NotConnected: 'not connected to the server',
  Closed: 'closed before the server answered',
  Lost: 'the connection was lost before the server answered',
  RawText: 'not available in raw text mode',
  /** Moderation (kick, ban, mute) is a Socket.IO request only. */
  RawEndpoint: 'not available over the raw endpoint',
} as const;

/** The requests only Socket.IO carries. */
export const MODERATION_REQUESTS: ReadonlySet<RequestKind> = new Set<RequestKind>(['kick', 'ban', 'mute']);

/** What a session needs of either transport. */
export interface Link {
  open(): void;
  send(text: string): Promise<string | undefined>;
  typing(): void;
  /**
   * Resolves with the server's answer, a refusal included; rejects (RequestFailure) when
   * there is no connection, it ends before the answer, or the wire has no such request.
   */
  request<K extends RequestKind>(kind: K, body: Requests[K]['request']): Promise<Requests[K]['ack']>;
  close(): Promise<void>;
}

/** What a link reports to its session. */
export interface LinkEvents {
  opened(): void;
  /** `final`: the server ended it on purpose; do not retry. */
  lost(reason: string, final: boolean): void;
  /** A moderator ended this connection (a kick, or a ban: reason BANNED); `lost`, final, follows. */
  kicked(kicked: Kicked): void;
  /** A message as it is posted; over raw JSON also a replayed tombstone. */
  chat(message: HistoryMessage): void;
  notice(notice: Notice): void;
  history(messages: HistoryMessage[]): void;
  presence(presence: Presence): void;
  typing(who: Typing): void;
  seedFrame(text: string): void;
  edited(edit: MessageEdit): void;
  deleted(deleted: MessageDelete): void;
  reaction(reaction: Reaction): void;
  read(marker: ReadMarker): void;
}

/** The server answered a `chat` with `{ ok: false, error }`. */
export class ChatRefusedError extends Error {
  /** `reason`: the server's words beside the code (the publish hook's, with `rejected`). */
  constructor(
    readonly code: string,
    readonly reason?: string,
  ) {
    super(`the server refused the message: ${code}${reason === undefined ? '' : ` (${reason})`}`);
    this.name = 'ChatRefusedError';
  }
}

/** The reason a kick carries when its moderator gave none. */
const DEFAULT_KICK_REASON = 'kicked';

/**
 * What a session reports when a moderator ended it: `kicked from room lobby (spam)`, or
 * `banned from room lobby`. The reason is the moderator's own text, unfiltered.
 */
export function describeKicked({ room, reason }: Kicked): string {
  if (reason === BANNED) return `banned from room ${room}`;
  return `kicked from room ${room}${reason === '' || reason === DEFAULT_KICK_REASON ? '' : ` (${reason})`}`;
}

/** What a session reports when the server refuses it because it is banned (Socket.IO connect_error, raw 403 `banned`). */
export function describeBanRefusal(room: string): string {
  return `the server refused the connection: banned from room ${room}`;
}
