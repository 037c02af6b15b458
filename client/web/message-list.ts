import type { ChatMessage } from '../../server/protocol.js';
import { clockTime } from '../shared/format.js';

/** Rows kept on the page; older ones are dropped from the top. */
const MAX_ROWS = 1_000;
/** How close to the bottom (px) still counts as "reading the newest". */
const NEAR_BOTTOM_PX = 48;

/** A new element with a class and text. Text goes in as text, never as HTML. */
function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/**
 * The message list, newest at the bottom. It follows new messages while the reader is at
 * the bottom and stays put once they have scrolled up to read something older.
 */
export class MessageList {
  /** Ids already on the page: a history sent again after a reconnection adds nothing. */
  private readonly shown = new Set<string>();

  constructor(
    private readonly scroller: HTMLElement,
    private readonly list: HTMLOListElement,
  ) {}

  /** Another room: its messages start from an empty list. */
  clear(): void {
    this.shown.clear();
    this.list.replaceChildren();
  }

  addChat(message: ChatMessage, mine: boolean): void {
    if (this.shown.has(message.id)) return;
    this.shown.add(message.id);
    const row = element('li', mine ? 'chat mine' : 'chat');
    row.dataset['id'] = message.id;
    const meta = element('div', 'meta');
    meta.append(element('span', 'name', message.name), ' ', this.time(message.at));
    row.append(meta, element('div', 'text', message.text));
    this.append(row);
  }

  addNotice(text: string, at: number): void {
    const row = element('li', 'notice', `${text} · `);
    row.append(this.time(at));
    this.append(row);
  }

  addProblem(text: string): void {
    this.append(element('li', 'notice problem', text));
  }

  private time(at: number): HTMLTimeElement {
    const time = element('time', 'time', clockTime(at));
    time.dateTime = new Date(at).toISOString();
    return time;
  }

  private append(row: HTMLLIElement): void {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    const following = scrollHeight - scrollTop - clientHeight <= NEAR_BOTTOM_PX;
    this.list.append(row);
    while (this.list.childElementCount > MAX_ROWS) this.list.firstElementChild?.remove();
    if (following) this.scroller.scrollTop = this.scroller.scrollHeight;
  }
}
