/**
 * The wire contract shared by the server, the clients and the tests.
 *
 * Everything a client may rely on lives here: the Socket.IO event maps, the
 * shapes of messages and notices, the seed's exact notice strings, the close
 * codes of the raw endpoint and the error codes of a refused `chat`.
 * This file imports nothing, so browser code and Node scripts can share it.
 */

/** The seed server's exact strings; raw clients in seed mode receive them byte for byte. */
export const JOIN_TEXT = 'Server: A new user has entered the chat room.';
export const LEAVE_TEXT = 'Server: A user has left the chat room.';

/** The seed's greeting on `GET /`. */
export const HELLO_TEXT = 'Hello, This is a WebSocket tester!';

export const RAW_PATH = '/socket';
export const SOCKET_IO_PATH = '/socket.io';

/** A chat message as every client sees it. `at` is server time in epoch milliseconds. */
export interface ChatMessage {
  id: string;
  text: string;
  name: string;
  at: number;
}

export type NoticeKind = 'join' | 'leave';

/** A join or leave; `text` is the seed's string, `online` counts clients of both kinds. */
export interface Notice {
  kind: NoticeKind;
  text: string;
  name: string;
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
} as const;
export type ChatErrorCode = (typeof ChatError)[keyof typeof ChatError];

export type ChatAck = { ok: true; id: string } | { ok: false; error: ChatErrorCode };

export interface ServerToClientEvents {
  chat: (message: ChatMessage) => void;
  notice: (notice: Notice) => void;
  /** Sent to a newcomer only: the last HISTORY_SIZE messages, oldest first. */
  history: (messages: ChatMessage[]) => void;
  /** Someone else is typing (volatile: dropped rather than queued when a client lags). */
  typing: (who: Typing) => void;
}

export interface ClientToServerEvents {
  chat: (text: string, ack?: (result: ChatAck) => void) => void;
  /** "I am typing." No payload: the server names the sender itself. */
  typing: () => void;
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

/** Frames of the raw endpoint in `?format=json` mode. */
export type RawJsonFrame = ({ type: 'chat' } & ChatMessage) | ({ type: 'notice' } & Notice);

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

/** Close codes the raw endpoint uses (RFC 6455, section 7.4.1). */
export const CloseCode = {
  /** The server is shutting down; reconnect later or elsewhere. */
  GoingAway: 1001,
  /** A binary frame: this endpoint speaks text only. */
  UnsupportedData: 1003,
  /** A text frame that is not valid UTF-8 (sent by `ws` itself). */
  InvalidPayload: 1007,
  /** Flood control: the client kept sending past RATE_BURST. */
  PolicyViolation: 1008,
  /** A frame larger than MAX_MESSAGE_BYTES (sent by `ws` itself). */
  MessageTooBig: 1009,
} as const;
