/**
 * The wire contract of moderation: kick, ban and mute, who may, and how a client learns
 * it was moved out or refused. Part of protocol.ts, which exports it all. It imports
 * nothing, so browser code and Node scripts can share it.
 */

/** What a ban stops: `ban` every connection (the handshake is refused), `mute` posting only. */
export type BanKind = 'ban' | 'mute';

/** A ban or a mute, as the API lists it and a moderator's ack answers it. */
export interface Ban {
  id: string;
  kind: BanKind;
  /** Whom: a user (the JWT `sub`; without JWT a display name) or an address. */
  user?: string;
  ip?: string;
  /** One room, or null: every room. */
  room: string | null;
  /** Until when (epoch ms), or null: for good. */
  until: number | null;
  reason: string;
  /** When it was made (epoch ms), and by whom (`api`, or the moderator's user). */
  at: number;
  by: string;
}

/** What a moderator asks for (Socket.IO `ban`, `mute`; the API's `POST /api/bans`). */
export interface BanRequest {
  user?: string;
  ip?: string;
  /** Absent: the room the request came from (Socket.IO), or every room (the API); null: every room. */
  room?: string | null;
  /** Epoch ms in the future; absent or null: for good. */
  until?: number | null;
  reason?: string;
}

export interface KickRequest {
  user: string;
  reason?: string;
}

/** Why a moderation request was refused. Stable. */
export const ModerationError = {
  /** Not a moderator here (a moderator's token must allow the room), or the target is an admin. */
  Forbidden: 'forbidden',
  /** Not of the expected shape: no user and no ip, both, a malformed address, a time in the past, a malformed room. */
  Invalid: 'invalid',
  /** Past the connection's flood budget. */
  RateLimited: 'rate_limited',
  /** The ban could not be stored now. */
  Unavailable: 'unavailable',
} as const;
export type ModerationErrorCode = (typeof ModerationError)[keyof typeof ModerationError];

export type KickAck = { ok: true; connections: number } | { ok: false; error: ModerationErrorCode };
export type BanAck = { ok: true; ban: Ban } | { ok: false; error: ModerationErrorCode };

/** Sent to a Socket.IO client just before it is disconnected from a room's namespace. */
export interface Kicked {
  room: string;
  reason: string;
}

/** The reason of a ban's disconnect and refusal: a Socket.IO `connect_error`, a raw 403 body, a `kicked` reason. */
export const BANNED = 'banned';
/** Why a muted client's post was refused (ack error, raw JSON error frame). */
export const MUTED = 'muted';

/** Raw close codes of moderation (private-use range of RFC 6455). */
export const ModerationClose = {
  /** Kicked from the room; the reason says why. May come back. */
  Kicked: 4001,
  /** Banned: reason `banned`. */
  Banned: 4003,
} as const;
