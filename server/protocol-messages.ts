/**
 * The wire contract of chat messages and of the changes to them (edit, delete, reactions,
 * older history, read markers): the messages and tombstones, the requests, their acks and
 * refusals, the room's events, and the raw JSON request frames. Part of protocol.ts,
 * which exports it all. It imports only the types of moderation, so browser code and Node
 * scripts can share it.
 */
import type { Ban, BanRequest, KickRequest } from './protocol-moderation.js';

/** A chat message as every client sees it. `at` is server time in epoch milliseconds. */
export interface ChatMessage {
  id: string;
  text: string;
  name: string;
  at: number;
  /** With JWT only: who sent it (the token's `sub`). Absent without JWT, and for API posts. */
  user?: string;
  /** Edited: 1 after the first edit, 2 after the second, ...; absent while never edited. */
  version?: number;
  /** When it was last edited (epoch ms); absent while never edited. */
  editedAt?: number;
  /** Its reactions, emoji to count; absent while it has none. */
  reactions?: Record<string, number>;
}

/** Where a deleted message was (a tombstone): its id and time remain, its text and sender are gone. */
export interface DeletedMessage {
  id: string;
  at: number;
  deleted: true;
}

/** What history holds: messages, and tombstones where messages were deleted. */
export type HistoryMessage = ChatMessage | DeletedMessage;

export function isDeleted(message: HistoryMessage): message is DeletedMessage {
  return 'deleted' in message;
}

/**
 * Why an edit, delete, reaction, history page or read marker was refused. Stable. Raw
 * JSON clients get it as `{"type":"error","error":<code>,"ref":...}`.
 */
export const ActionError = {
  /** Not an object of the expected shape, a malformed id, an emoji not 1-32 bytes, a limit not 1-200. */
  Invalid: 'invalid',
  /** No such message in this room (never sent, in another room, or trimmed). */
  NotFound: 'not_found',
  /** The message is someone else's (edit: the author only; delete: the author, a moderator, an admin). */
  Forbidden: 'forbidden',
  /** An edit's text is empty or only white space. */
  Empty: 'empty',
  /** An edit's text is longer than MAX_MESSAGE_BYTES. */
  TooLarge: 'too_large',
  /** The message has MAX_REACTIONS distinct emoji already. */
  TooManyReactions: 'too_many_reactions',
  /** Past the connection's flood budget, which every event draws on. */
  RateLimited: 'rate_limited',
  /** The store cannot take changes or answer reads now. */
  Unavailable: 'unavailable',
  /** Raw JSON: a request before the client joined its room, or of an unknown `type`. */
  NotJoined: 'not_joined',
  /** The sender is muted in this room: a chat or an edit reached nobody. */
  Muted: 'muted',
  /** The publish hook (PUBLISH_HOOK_URL) refused a chat or an edit: it reached nobody; `reason` is the hook's. */
  Rejected: 'rejected',
} as const;
export type ActionErrorCode = (typeof ActionError)[keyof typeof ActionError];
/**
 * `reason`: words for a person, with `rejected` (the publish hook's own) and with an
 * `unavailable` the publish hook caused (it failed to answer; see docs/webhooks.md).
 */
export type Refused = { ok: false; error: ActionErrorCode; reason?: string };

/** The most distinct emoji one message may carry, and the longest emoji in UTF-8 bytes. */
export const MAX_REACTIONS = 20;
export const MAX_EMOJI_BYTES = 32;
/** The most messages one page of older history holds (`history` with `before`). */
export const MAX_HISTORY_PAGE = 200;

/** Requests (Socket.IO events with an ack; raw JSON frames with `type`). */
export interface EditRequest {
  id: string;
  text: string;
}
export interface DeleteRequest {
  id: string;
}
export interface ReactRequest {
  id: string;
  emoji: string;
  /** true: add this user's reaction; false: take it back. */
  on: boolean;
}
/** A page of older history: up to `limit` (1-200, default 50) messages before `before` (default: the newest). */
export interface HistoryRequest {
  before?: string;
  limit?: number;
}
export interface ReadRequest {
  id: string;
}

export type EditAck = { ok: true; version: number } | Refused;
export type DeleteAck = { ok: true } | Refused;
export type ReactAck = { ok: true; count: number } | Refused;
/** Oldest first; `more`: older messages exist before the first one. */
export type HistoryAck = { ok: true; messages: HistoryMessage[]; more: boolean } | Refused;
export type ReadAck = { ok: true } | Refused;
/** The asker's rooms with a read marker (the asker: the token's `sub`, else the name), as the API's `/users/<user>/rooms`. */
export type UnreadAck = { ok: true; rooms: UserRoom[] } | Refused;

/** The room's events for these (to everyone in the room, the sender included). */
export interface MessageEdit {
  id: string;
  text: string;
  version: number;
  editedAt: number;
}
export interface MessageDelete {
  id: string;
}
export interface Reaction {
  id: string;
  emoji: string;
  /** How many users now react with this emoji (0: none left). */
  count: number;
}
export interface ReadMarker {
  name: string;
  /** With JWT only: the token's `sub`. */
  user?: string;
  /** The newest message this user has read in the room. */
  id: string;
}

/** One of a user's rooms, with what is unread there (`GET /api/users/<user>/rooms`). */
export interface UserRoom {
  name: string;
  /** The room's newest message. */
  lastId: string | null;
  lastReadId: string;
  /** Messages after lastReadId, tombstones not counted. */
  unread: number;
}

/**
 * What a raw JSON client may send besides chat text: a frame that is a JSON object with a
 * string `type`. Any other frame is chat text, as before. `ref` (optional, a string or a
 * number) comes back in the answer. Text-mode clients' frames are always chat text.
 */
export type RawRequest = { ref?: string | number } & (
  | { type: 'chat'; text: string }
  | ({ type: 'edit' } & EditRequest)
  | ({ type: 'delete' } & DeleteRequest)
  | ({ type: 'react' } & ReactRequest)
  | ({ type: 'history' } & HistoryRequest)
  | ({ type: 'read' } & ReadRequest)
  | { type: 'unread' }
  | ({ type: 'kick' } & KickRequest)
  | ({ type: 'ban' | 'mute' } & BanRequest)
);

/**
 * The answers to a raw JSON request, to that client alone: a refusal always; an older
 * history page and the unread counts always; with `?ack=1` an ack for each request that
 * succeeded (`id`: a chat's; `version`: an edit's; `count`: a reaction's). `ref`: the
 * request's `ref`, else its `id`. Answers to requests come when each is done, matched by
 * `ref`, not in the order sent; the acks of plain chat frames (no `ref`) keep their order.
 */
export type RawErrorFrame = { type: 'error'; error: ActionErrorCode; reason?: string; ref?: string | number };
export type RawHistoryFrame = { type: 'history'; messages: HistoryMessage[]; more: boolean; ref?: string | number };
export type RawUnreadFrame = { type: 'unread'; rooms: UserRoom[]; ref?: string | number };
export type RawRequestAck = {
  type: 'ack';
  ref?: string | number;
  id?: string;
  version?: number;
  count?: number;
  /** A kick's: connections it ended on this node. */
  connections?: number;
  /** A ban's or a mute's, as stored. */
  ban?: Ban;
};

