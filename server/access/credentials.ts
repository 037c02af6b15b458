import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { TokenError, UpgradeRefusal, type TokenErrorCode } from '../protocol';
import type { Metrics } from '../support/metrics';
import { isTokenRefusal, mayEnter, type Identity, type JwtVerifier } from './jwt';

/** Why a client may not enter a room: the raw upgrade's status and body, Socket.IO's `connect_error`. */
export interface EntryRefusal {
  readonly status: 401 | 403;
  readonly error: TokenErrorCode;
  readonly message: string;
}

/** What a client that may enter is: its identity with JWT, null without. */
export type Entry = Identity | null;

export function isEntryRefusal(answer: Entry | EntryRefusal): answer is EntryRefusal {
  return answer !== null && 'status' in answer;
}

/** Where a client shows its token: a raw upgrade, or a Socket.IO namespace join. */
export type Checkpoint = 'upgrade' | 'join';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

const WRONG_TOKEN: EntryRefusal = { status: 401, error: TokenError.Unauthorized, message: UpgradeRefusal.WrongToken };
const INVALID_TOKEN: EntryRefusal = { status: 401, error: TokenError.Unauthorized, message: UpgradeRefusal.InvalidToken };
const NOT_THIS_ROOM: EntryRefusal = { status: 403, error: TokenError.Forbidden, message: UpgradeRefusal.RoomNotInToken };

/**
 * What a client shows to get in, checked the same way whatever its wire: CHAT_TOKEN
 * (compared in constant time), or a JWT (its signature, expiry and `rooms` claim). Every
 * refusal is counted and logged here, never the token itself.
 */
export class Credentials {
  private readonly chatTokenDigest: Buffer | null;

  constructor(
    chatToken: string | null,
    private readonly jwt: JwtVerifier | null,
    private readonly metrics: Pick<Metrics, 'reject'>,
    private readonly logger: Logger,
  ) {
    this.chatTokenDigest = chatToken === null ? null : sha256(chatToken);
  }

  /** Whether clients show a JWT (then their names come from it). */
  get usesJwt(): boolean {
    return this.jwt !== null;
  }

  /**
   * Who the client showing `token` is, for `room`; or why it may not enter. Without JWT
   * it answers at once (no promise: a join storm makes one check per handshake); with JWT
   * it may wait for the key set (at most its fetch timeout). `fields`: what the refusal's
   * log line says of the client. Never throws or rejects.
   */
  check(token: unknown, room: string, at: Checkpoint, fields: Record<string, unknown>): Entry | EntryRefusal | Promise<Entry | EntryRefusal> {
    if (this.jwt !== null) return this.checkJwt(this.jwt, token, room, at, fields);
    if (this.chatTokenDigest === null || (typeof token === 'string' && timingSafeEqual(sha256(token), this.chatTokenDigest))) return null;
    this.metrics.reject('auth');
    return WRONG_TOKEN;
  }

  private async checkJwt(jwt: JwtVerifier, token: unknown, room: string, at: Checkpoint, fields: Record<string, unknown>): Promise<Entry | EntryRefusal> {
    const identity = await jwt.verify(token);
    if (isTokenRefusal(identity) || (identity.expiresAt !== null && identity.expiresAt <= Date.now())) {
      this.metrics.reject('auth');
      this.logger.info({ ...fields, status: 401, reason: isTokenRefusal(identity) ? identity : 'expired' }, `${at} refused: token`);
      return INVALID_TOKEN;
    }
    if (!mayEnter(identity, room)) {
      this.metrics.reject('forbidden');
      this.logger.info({ ...fields, status: 403, room, sub: identity.sub }, `${at} refused: room not in token`);
      return NOT_THIS_ROOM;
    }
    return identity;
  }
}
