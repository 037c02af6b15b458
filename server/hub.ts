import type { Logger } from 'pino';
import { History } from './history';
import { MessageIdGenerator } from './message-id';
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage, type Notice, type NoticeKind } from './protocol';

/**
 * What the hub needs of a transport: take each stamped message or notice and get it to
 * that transport's own clients. A transport never calls another transport; everything
 * goes through the hub, so every client sees one order of events.
 */
export interface Transport {
  deliverChat(message: ChatMessage): void;
  deliverNotice(notice: Notice): void;
}

export interface HubOptions {
  historySize: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The chat room. It stamps messages (id, time, name), keeps the history, counts who is
 * online across every transport, and publishes each event once to every transport.
 * It knows nothing of sockets.
 */
export class Hub {
  private readonly transports: Transport[] = [];
  private readonly history: History;
  private readonly ids: MessageIdGenerator;
  private readonly logger: Logger;
  private readonly now: () => number;
  private members = 0;
  private quiet = false;

  constructor(options: HubOptions) {
    this.history = new History(options.historySize);
    this.now = options.now ?? Date.now;
    this.ids = new MessageIdGenerator(this.now);
    this.logger = options.logger;
  }

  addTransport(transport: Transport): void {
    this.transports.push(transport);
  }

  get online(): number {
    return this.members;
  }

  /** Someone joined through any transport: everyone, the newcomer included, is told. */
  join(name: string): Notice {
    this.members += 1;
    return this.announce('join', JOIN_TEXT, name);
  }

  /** Someone left: everyone still here is told. */
  leave(name: string): Notice {
    this.members -= 1;
    return this.announce('leave', LEAVE_TEXT, name);
  }

  /**
   * Stamps a message that its transport has already checked, hands it to `acknowledge`
   * (so a sender learns its id before the broadcast reaches it), keeps it in the history
   * and delivers it everywhere, sender included.
   */
  post(name: string, text: string, acknowledge?: (message: ChatMessage) => void): ChatMessage {
    const { id, at } = this.ids.next();
    const message: ChatMessage = { id, text, name, at };
    acknowledge?.(message);
    this.history.add(message);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ id, name, text }, 'chat');
    for (const transport of this.transports) transport.deliverChat(message);
    return message;
  }

  /** The last messages, oldest first. */
  recent(): ChatMessage[] {
    return this.history.list();
  }

  /**
   * From now on joins and leaves still count but are not announced. Used on shutdown:
   * telling each of N departing clients about the N others is quadratic noise that
   * nobody stays to read.
   */
  silenceNotices(): void {
    this.quiet = true;
  }

  private announce(kind: NoticeKind, text: string, name: string): Notice {
    const notice: Notice = { kind, text, name, online: this.members, at: this.now() };
    if (this.quiet) return notice;
    for (const transport of this.transports) transport.deliverNotice(notice);
    return notice;
  }
}
