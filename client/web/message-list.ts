import { isDeleted, type HistoryMessage, type MessageDelete, type MessageEdit, type Reaction } from '../../server/protocol.js';
import { element, timeElement } from './dom.js';
import { MessageRow, type MessageActions } from './message-row.js';

/** Rows kept on the page as new ones come; older ones are dropped from the top. */
const MAX_ROWS = 1_000;
/** How close to the bottom (px) still counts as "reading the newest". */
const NEAR_BOTTOM_PX = 48;

/**
 * The message list, newest at the bottom. It follows new messages while the reader is at
 * the bottom and stays put once they have scrolled up to read something older; older
 * pages go in at the top without moving what the reader is looking at.
 */
export class MessageList {
  /** The rows on the page by message id: a history sent again adds nothing, and changes find their row. */
  private readonly rows = new Map<string, MessageRow>();
  /** Called when rows of messages were dropped from the top: older ones can be loaded again. */
  onTrimmed: () => void = () => {};

  constructor(
    private readonly scroller: HTMLElement,
    private readonly list: HTMLOListElement,
    private readonly actions: MessageActions | undefined,
  ) {}

  /** Another room: its messages start from an empty list. */
  clear(): void {
    this.rows.clear();
    this.list.replaceChildren();
  }

  /** A message (or a tombstone) at the bottom; one already shown is brought up to date instead. */
  add(message: HistoryMessage, mine: boolean): void {
    const shown = this.rows.get(message.id);
    if (shown !== undefined) {
      shown.update(message);
      return;
    }
    this.append(this.row(message, mine).element);
  }

  /**
   * Older messages, oldest first, above everything shown. The reader keeps seeing what
   * they saw: the list scrolls down by as much as the new rows pushed the old ones.
   */
  prepend(messages: readonly HistoryMessage[], mine: (message: HistoryMessage) => boolean): void {
    const fresh: HTMLElement[] = [];
    for (const message of messages) {
      const shown = this.rows.get(message.id);
      if (shown === undefined) fresh.push(this.row(message, mine(message)).element);
      else shown.update(message);
    }
    if (fresh.length === 0) return;
    // Measured on the row that was at the top, not by the list's height: a list shorter
    // than its box grows by less than the new rows take.
    const anchor = this.list.firstElementChild;
    const before = anchor?.getBoundingClientRect().top ?? 0;
    this.list.prepend(...fresh);
    this.scroller.scrollTop += (anchor?.getBoundingClientRect().top ?? 0) - before;
  }

  edit(edit: MessageEdit): void {
    this.rows.get(edit.id)?.edit(edit);
  }

  delete(deleted: MessageDelete): void {
    this.rows.get(deleted.id)?.delete();
  }

  react(reaction: Reaction): void {
    this.rows.get(reaction.id)?.react(reaction.emoji, reaction.count);
  }

  /** Redraws one message's chips (this session's reaction to it changed), or every message's. */
  drawChips(id?: string): void {
    if (id !== undefined) this.rows.get(id)?.drawChips();
    else for (const row of this.rows.values()) row.drawChips();
  }

  /** Whether the message is on the page; if so, it now says who has read up to it. */
  showSeenBy(id: string, names: readonly string[]): boolean {
    const row = this.rows.get(id);
    row?.showSeenBy(names);
    return row !== undefined;
  }

  /** The top message's id (tombstones count): where the next older page ends. */
  oldestId(): string | undefined {
    for (const node of this.list.children) {
      const id = node instanceof HTMLElement ? node.dataset['id'] : undefined;
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** The newest message that is not deleted: what the reader has read once at the bottom. */
  newestId(): string | undefined {
    for (let node = this.list.lastElementChild; node !== null; node = node.previousElementSibling) {
      const id = node instanceof HTMLElement ? node.dataset['id'] : undefined;
      if (id !== undefined && this.rows.get(id)?.deleted === false) return id;
    }
    return undefined;
  }

  atBottom(): boolean {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight <= NEAR_BOTTOM_PX;
  }

  addNotice(text: string, at: number): void {
    const row = element('li', 'notice', `${text} · `);
    row.append(timeElement(at));
    this.append(row);
  }

  addProblem(text: string): void {
    this.append(element('li', 'notice problem', text));
  }

  private row(message: HistoryMessage, mine: boolean): MessageRow {
    const row = new MessageRow(message, mine && !isDeleted(message), this.actions);
    this.rows.set(message.id, row);
    return row;
  }

  private append(row: HTMLLIElement): void {
    const following = this.atBottom();
    this.list.append(row);
    let trimmed = false;
    while (this.list.childElementCount > MAX_ROWS) {
      const first = this.list.firstElementChild;
      if (!(first instanceof HTMLElement)) break;
      const id = first.dataset['id'];
      if (id !== undefined) {
        this.rows.delete(id);
        trimmed = true;
      }
      first.remove();
    }
    if (trimmed) this.onTrimmed();
    if (following) this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
