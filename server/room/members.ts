import type { Logger } from 'pino';
import { ChatError, type ChatErrorCode } from '../protocol';
import { jsonBytes } from '../support/json-bytes';
import type { Metrics, TransportName } from '../support/metrics';
import { chatTextError } from './chat-text';
import type { PostOutcome, Room } from './room';
import type { Budget } from './flood-control';

/**
 * One client in one room, whatever its transport. A raw client is its own Member (its
 * `ws` object carries these fields: no record per connection); a Socket.IO client has one
 * per room it is in.
 */
export interface Member {
  readonly room: Room;
  readonly name: string;
  /** With JWT: the token's `sub`, the key presence counts it under; undefined without JWT. */
  readonly user: string | undefined;
  /** Flood control, shared by everything one connection does; null when RATE_LIMIT is 0. */
  readonly budget: Budget | null;
}

export interface MembersOptions {
  maxMessageBytes: number;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The life of a member, written once for every transport: joining (logged, announced),
 * posting (checked, flood-controlled, counted, stamped) and leaving. Transports only
 * translate bytes to these calls and the answers back to bytes.
 */
export class Members {
  constructor(private readonly options: MembersOptions) {}

  /** `fields`: what the log line says about the connection besides its room and name. */
  join(member: Member, fields: Record<string, unknown>): void {
    this.options.logger.info({ ...fields, room: member.room.name, name: member.name }, 'connection open');
    member.room.join(member.name, member.user);
  }

  leave(member: Member, fields: Record<string, unknown>): void {
    this.options.logger.info({ ...fields, room: member.room.name, name: member.name }, 'connection close');
    member.room.leave(member.name, member.user);
  }

  /**
   * A chat from `member`: refused at once with its error code (nothing is broadcast), or
   * posted to the room, `outcome` hearing later of its id (before anyone receives it) or
   * of the store's refusal.
   * `checkText`: false for raw frames, which the seed broadcasts verbatim, whatever they
   * hold (`ws` has already refused binary, oversize and invalid UTF-8 frames).
   */
  post(
    member: Member,
    transport: TransportName,
    text: unknown,
    checkText: boolean,
    outcome?: PostOutcome,
  ): ChatErrorCode | null {
    const { metrics } = this.options;
    const error = checkText ? chatTextError(text, this.options.maxMessageBytes) : null;
    if (error !== null) {
      metrics.reject(error === ChatError.TooLarge ? 'size' : 'invalid');
      return error;
    }
    if (member.budget !== null && !member.budget.take(jsonBytes(text))) {
      metrics.reject('rate');
      return ChatError.RateLimited;
    }
    metrics.messageIn(transport);
    member.room.post(member.name, text as string, outcome);
    return null;
  }
}
