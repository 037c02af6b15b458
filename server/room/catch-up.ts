import type { Logger } from 'pino';
import { isDeleted, type ChatMessage } from '../protocol';
import type { StoredPage } from '../store/message-store';
import type { RoomEvent } from './room-seams';

export interface CatchUpOptions {
  room: string;
  /** The room's stored chats after `since` (the newest when undefined). */
  read(since: string | undefined): StoredPage | Promise<StoredPage>;
  /** Whether the room has shown the chat with this id already (its history in memory). */
  shown(id: string): boolean;
  /** Shows another node's event to the room's clients here. */
  deliver(event: RoomEvent): void;
  logger: Logger;
}

/**
 * A room catching up after some of another node's events of it were lost on the bus
 * (cluster/room-sequences.ts): the stored chats after the last one heard from that node
 * that the room has not shown are read and shown first; the other nodes' events that
 * arrive meanwhile wait for them (a chat stored by the time of the read shows with what
 * was read, before a notice that came ahead of it). Only chats are stored: a lost notice
 * is told again by the next presence snapshot, a lost edit or reaction shows on the next
 * read of history.
 */
export class CatchUp {
  /** Other nodes' events that arrived while a read is under way, or null when none is. */
  private held: RoomEvent[] | null = null;
  /** Whether another gap was seen while a read was under way: one more read follows it. */
  private again = false;
  /**
   * Whether the room has caught up once: from then on a chat already shown is not shown
   * again, as one read from the store may still arrive on the bus (stored before the read,
   * published after it, or sent again late).
   */
  private caughtUp = false;

  constructor(private readonly options: CatchUpOptions) {}

  /** Whether `event` is taken here (held for the read under way, or shown already), not to be shown now. */
  takes(event: RoomEvent): boolean {
    if (this.held !== null) {
      this.held.push(event);
      return true;
    }
    return this.caughtUp && event.type === 'chat' && this.options.shown(event.message.id);
  }

  /** Reads and shows what was missed after the chat `since` (the room's newest when undefined). */
  start(since: string | undefined): void {
    if (this.held !== null) {
      this.again = true;
      return;
    }
    this.read(since);
  }

  private read(since: string | undefined): void {
    this.held = [];
    this.caughtUp = true;
    const { logger, room } = this.options;
    const failed = (err: unknown) => {
      logger.warn({ room, err: err instanceof Error ? err.message : String(err) }, 'catching up on missed messages failed');
      this.finish(since, null);
    };
    try {
      const page = this.options.read(since);
      if (page instanceof Promise) {
        page.then((read) => this.finish(since, read), failed).catch((err: unknown) => logger.error({ room, err }, 'showing missed messages failed'));
      }
      else this.finish(since, page);
    } catch (err) {
      failed(err);
    }
  }

  private finish(since: string | undefined, page: StoredPage | null): void {
    const held = this.held ?? [];
    this.held = null;
    let last = since;
    for (const message of page?.messages ?? []) {
      if (isDeleted(message)) continue;
      last = message.id;
      if (this.options.shown(message.id)) continue;
      this.options.deliver({ type: 'chat', room: this.options.room, message: message as ChatMessage });
    }
    for (const event of held) if (!this.takes(event)) this.options.deliver(event);
    if (this.again) {
      // Another gap while reading: what it lost may have been stored after the read.
      this.again = false;
      this.read(last);
    }
  }
}
