/**
 * The wire contract shared by the server, the clients and the tests.
 *
 * Everything a client may rely on lives here: the Socket.IO event maps, the
 * shapes of messages and notices, the seed's exact notice strings, the close
 * codes of the raw endpoint and the error codes of a refused `chat`.
 * This file imports nothing but its part on messages and the changes to them
 * (protocol-messages.ts, all of which it exports), so browser code and Node scripts can
 * share it.
 */
import type { ChatMessage, DeletedMessage, EditRequest, HistoryMessage, MessageDelete, MessageEdit, Reaction, ReadMarker } from './protocol-messages.js';
import type { DeleteAck, DeleteRequest, EditAck, HistoryAck, HistoryRequest, ReactAck, ReactRequest, ReadAck, ReadRequest, UnreadAck } from './protocol-messages.js';

import type { BanAck, BanRequest, Kicked, KickAck, KickRequest } from './protocol-moderation.js';

export * from './protocol-messages.js';
export * from './protocol-moderation.js';

/** The seed server's exact strings; raw clients in seed mode receive them byte for byte. */
export const JOIN_TEXT = 'Server: A new user has entered the chat room.';
export const LEAVE_TEXT = 'Server: A user has left the chat room.';

/** The seed's greeting on `GET /`. */
export const HELLO_TEXT = 'Hello, This is a WebSocket tester!';

export const RAW_PATH = '/socket';
export const SOCKET_IO_PATH = '/socket.io';

/**
 * Rooms. A room name is 1-64 characters of `a-z`, `0-9`, `-`, `_`, `.`, starting with a
 * letter or digit, and never two dots in a row (nothing that reads as a path step).
 * The default room, the seed's one room, is the lobby:
 * - raw: `ws://HOST/socket` is the lobby, `ws://HOST/socket/<room>` any room
 *   (`/socket/lobby` is the lobby too); a malformed name gets HTTP 400;
 * - Socket.IO: the namespace is the room; `/` (the seed's `io.emit`) is the lobby, and
 *   so is `/lobby`; a malformed name gets a `connect_error` (RoomError).
 * Everything else (chat, notices, `online`, history, typing, resume) is per room, and
 * nothing crosses rooms.
 */
export const DEFAULT_ROOM = 'lobby';
export const MAX_ROOM_NAME_LENGTH = 64;
const ROOM_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Whether `text` is a well-formed room name. */
export function isRoomName(text: string): boolean {
  return ROOM_NAME.test(text) && !text.includes('..');
}

/** The raw endpoint's path for `room`: `/socket` for the lobby, as in the seed. */
export function rawRoomPath(room: string): string {
  return room === DEFAULT_ROOM ? RAW_PATH : `${RAW_PATH}/${room}`;
}

/** The Socket.IO namespace of `room`: `/` for the lobby, as in the seed. */
export function roomNamespace(room: string): string {
  return room === DEFAULT_ROOM ? '/' : `/${room}`;
}

/** Rooms one Socket.IO connection may be in at once (one namespace each). */
export const MAX_ROOMS_PER_CONNECTION = 50;

/** Why a Socket.IO client could not join a room: the `connect_error` message. Stable. */
export const RoomError = {
  /** The namespace is not a well-formed room name (socket.io's own "Invalid namespace"). */
  InvalidRoom: 'Invalid namespace',
  /** The node already holds MAX_ROOMS rooms with clients in them. */
  RoomLimit: 'room_limit',
  /** This connection is already in MAX_ROOMS_PER_CONNECTION rooms. */
  TooManyRooms: 'too_many_rooms',
} as const;
export type RoomErrorCode = (typeof RoomError)[keyof typeof RoomError];

/** Why a Socket.IO client's token was not taken: the `connect_error` message. Stable. */
export const TokenError = {
  /** Missing, wrong or expired (raw: HTTP 401). */
  Unauthorized: 'unauthorized',
  /** Valid, but its `rooms` claim does not name the room (raw: HTTP 403). */
  Forbidden: 'forbidden',
} as const;
export type TokenErrorCode = (typeof TokenError)[keyof typeof TokenError];

export type NoticeKind = 'join' | 'leave';

/** A join or leave; `text` is the seed's string, `online` counts the room's clients of both kinds. */
export interface Notice {
  kind: NoticeKind;
  text: string;
  name: string;
  /**
   * With JWT only: who came or went (the token's `sub`). Names are display text, so two
   * users may show the same one; the member lists key on this. Absent without JWT.
   */
  user?: string;
  online: number;
  at: number;
}

/** Why a `chat` was refused. Stable: clients may switch on these. */
export const ChatError = {
  /** The payload was not a string. */
  InvalidType: 'invalid_type',
  /** The string was empty or only white space. */
  Empty: 'empty',
  /** The string's UTF-8 encoding is longer than MAX_MESSAGE_BYTES. */
  TooLarge: 'too_large',
  /** More than RATE_LIMIT messages per second (after a burst of RATE_BURST). */
  RateLimited: 'rate_limited',
  /**
   * The message store cannot take messages now (disk full, read-only, ...), or the publish
   * hook did not answer in time (`reason` says so): nobody received it; retry later.
   */
  Unavailable: 'unavailable',
  /** The sender is muted in this room (a moderator's mute, or a ban): nobody received it. */
  Muted: 'muted',
  /** The publish hook (PUBLISH_HOOK_URL) refused it, saying why in `reason`: nobody received it. */
  Rejected: 'rejected',
} as const;
export type ChatErrorCode = (typeof ChatError)[keyof typeof ChatError];

/** `reason`: with `rejected`, the publish hook's words; with `unavailable`, set when the publish hook failed to answer. */
export type ChatAck = { ok: true; id: string } | { ok: false; error: ChatErrorCode; reason?: string };

/**
 * One member of a room and how many connections it has there (tabs, devices, kinds).
 * Without JWT a member is a name. With JWT it is a user (`user`, the token's `sub`), shown
 * under the name of its first connection: two users with the same name are two members.
 */
export interface PresenceMember {
  name: string;
  /** With JWT only: the token's `sub`. */
  user?: string;
  connections: number;
}

/**
 * Who is in a room: `online` counts every connection of both kinds on every node (within
 * the heartbeat window); `members` are sorted by name (then by user), at most
 * MAX_PRESENCE_MEMBERS. Clients keep it current from the join and leave notices that
 * follow, matching a notice to a member by `user` when it has one, by name otherwise.
 */
export interface Presence {
  online: number;
  members: PresenceMember[];
}

export const MAX_PRESENCE_MEMBERS = 1000;

export interface ServerToClientEvents {
  chat: (message: ChatMessage) => void;
  notice: (notice: Notice) => void;
  /** Sent to a newcomer only: the room's last HISTORY_SIZE messages (tombstones included), oldest first. */
  history: (messages: HistoryMessage[]) => void;
  /** Sent to a newcomer only, right after `history`: who is in the room. */
  presence: (presence: Presence) => void;
  /** Someone else is typing (volatile: dropped rather than queued when a client lags). */
  typing: (who: Typing) => void;
  edit: (edit: MessageEdit) => void;
  delete: (deleted: MessageDelete) => void;
  reaction: (reaction: Reaction) => void;
  read: (marker: ReadMarker) => void;
  /** This client is being disconnected from the room by a moderator (kick, ban); `disconnect` follows. */
  kicked: (kicked: Kicked) => void;
}

export interface ClientToServerEvents {
  chat: (text: string, ack?: (result: ChatAck) => void) => void;
  /** "I am typing." No payload: the server names the sender itself. */
  typing: () => void;
  edit: (request: EditRequest, ack?: (result: EditAck) => void) => void;
  delete: (request: DeleteRequest, ack?: (result: DeleteAck) => void) => void;
  react: (request: ReactRequest, ack?: (result: ReactAck) => void) => void;
  history: (request: HistoryRequest, ack: (result: HistoryAck) => void) => void;
  read: (request: ReadRequest, ack?: (result: ReadAck) => void) => void;
  unread: (ack: (result: UnreadAck) => void) => void;
  /** Moderators and admins only (see protocol-moderation.ts). */
  kick: (request: KickRequest, ack?: (result: KickAck) => void) => void;
  ban: (request: BanRequest, ack?: (result: BanAck) => void) => void;
  mute: (request: BanRequest, ack?: (result: BanAck) => void) => void;
}

/** Who is typing; `name` is the one the server gave the sender. */
export interface Typing {
  name: string;
}

/**
 * A client that is typing sends `typing` at most once per TYPING_INTERVAL_MS; the server
 * relays at most one per half interval per client; clients show the indicator until
 * TYPING_SHOW_MS after the last one (or until that person's message arrives).
 */
export const TYPING_INTERVAL_MS = 2_000;
export const TYPING_SHOW_MS = 5_000;

/** What a Socket.IO client may put in its handshake `auth`. */
export interface ClientAuth {
  name?: string;
  /** The shared secret, when the server sets CHAT_TOKEN. */
  token?: string;
}

/** Frames of the raw endpoint in `?format=json` mode (and RawTombstoneFrame). */
export type RawJsonFrame =
  | ({ type: 'chat' } & ChatMessage)
  | ({ type: 'notice' } & Notice)
  | ({ type: 'edit' } & MessageEdit)
  | ({ type: 'delete' } & MessageDelete)
  | ({ type: 'reaction' } & Reaction)
  | ({ type: 'read' } & ReadMarker);

/** A `?since=` replay's tombstone: where a deleted message was, a `chat` frame with `deleted: true` and no text. */
export type RawTombstoneFrame = { type: 'chat' } & DeletedMessage;

/**
 * Raw `?format=json&ack=1`: the answer to each frame the client sent, to that client only,
 * in the order it sent them (the k-th ack answers its k-th frame). `id` is the message's,
 * sent before its broadcast leaves the server. `not_joined`: the frame came before the
 * client had joined its room (the room's stored history was still loading) and reached
 * nobody; a client that waits for its own join notice never gets it. A frame the server
 * cannot take otherwise closes the connection (see CloseCode), as without acks.
 */
export type RawAckFrame = { type: 'ack'; id: string } | { type: 'ack'; error: typeof RAW_NOT_JOINED };
export const RAW_NOT_JOINED = 'not_joined';

/**
 * Raw `?format=json&since=<id>` when the server no longer has (or never had) message
 * `since`: what came after it cannot be replayed; live traffic follows.
 */
export const HISTORY_INCOMPLETE_TEXT = 'Server: Some messages since your last one are no longer available.';
export interface RawResumeFrame {
  type: 'notice';
  kind: 'history_incomplete';
  text: string;
  since: string;
  at: number;
}

/** `text`: the seed's plain frames. `json` (`?format=json`): one JSON object per frame. */
export type RawFormat = 'text' | 'json';

/**
 * The bodies of the raw endpoint's refused upgrades (plain text, with the HTTP status
 * that says which). Clients switch on the status; these say why to a person.
 */
export const UpgradeRefusal = {
  /** 400: a request target that is no URL. */
  BadUrl: 'Bad request URL',
  /** 404: a path with no WebSocket endpoint. */
  NoEndpoint: `No WebSocket endpoint at this path; try ${RAW_PATH}`,
  Format: 'format must be "text" or "json"',
  Since: 'since needs format=json and a message id like 1700000000000-0',
  Ack: 'ack needs format=json and the value 1',
  RoomName: 'A room name is 1-64 characters of a-z, 0-9, "-", "_" and ".", starting with a letter or digit, without ".."',
  /** 401: CHAT_TOKEN missing or wrong. */
  WrongToken: 'Missing or wrong token',
  /** 401: a JWT missing, invalid or expired. */
  InvalidToken: 'Missing or invalid token',
  /** 403: the JWT's `rooms` claim does not name the room. */
  RoomNotInToken: 'Your token does not allow this room',
  /** 503: MAX_CONNECTIONS reached. */
  ServerFull: 'Server full, try again later',
  /** 429: MAX_CONNECTIONS_PER_IP reached. */
  TooManyFromAddress: 'Too many connections from your address',
  /** 503: MAX_ROOMS rooms, all with clients. */
  RoomLimit: 'Too many rooms on this server, try again later',
  /** 503: the server is shutting down. */
  ShuttingDown: 'Server shutting down',
  /** 403: a foreign Origin. */
  Origin: 'Origin not allowed',
  /** 403: the user or the address is banned from the room (see protocol-moderation.ts). */
  Banned: 'banned',
} as const;

/** The reasons of the raw endpoint's closes, beside their codes (CloseCode). */
export const CloseReason = {
  ShuttingDown: 'Server shutting down',
  Binary: 'Binary frames are not supported',
  RateLimited: 'Rate limit exceeded',
  TokenExpired: 'token expired',
  StoreUnavailable: 'Message store unavailable',
} as const;

/** Close codes the raw endpoint uses (RFC 6455, section 7.4.1). */
export const CloseCode = {
  /** The node is draining (SIGTERM): reconnect, to another node or to this one once it is back. */
  ServiceRestart: 1012,
  /** A binary frame: this endpoint speaks text only. */
  UnsupportedData: 1003,
  /** A text frame that is not valid UTF-8 (sent by `ws` itself). */
  InvalidPayload: 1007,
  /** Flood control (the client kept sending past its budget), or its token expired (see CloseReason). */
  PolicyViolation: 1008,
  /** A frame larger than MAX_MESSAGE_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** The message store cannot take messages now: the last message reached nobody. */
  InternalError: 1011,
} as const;
