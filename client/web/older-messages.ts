import type { HistoryAck, HistoryMessage } from '../../server/protocol.js';
import { describeActionError, describeFailure } from './action-errors.js';

/** Messages per older page: a screenful or two. */
export const OLDER_PAGE_SIZE = 50;
/** How close to the top (px) counts as "scrolled to the top". */
const NEAR_TOP_PX = 8;

/** Where older pages come from, and where they go. */
export interface OlderSource {
  /** The session's `older`; undefined while there is no session that can ask. */
  fetch(before: string | undefined, limit: number): Promise<HistoryAck> | undefined;
  oldestId(): string | undefined;
  show(messages: readonly HistoryMessage[]): void;
  problem(text: string): void;
}

/**
 * "Load older messages": a page of the room's history before the oldest message shown,
 * when the reader scrolls to the top, or with the button (for keyboards, and where the
 * list is too short to scroll). The button goes once the server says there are no more.
 */
export class OlderMessages {
  /** Whether older messages exist; undefined until the server has said. */
  private more: boolean | undefined;
  private available = false;
  private loading = false;
  /** Bumped for each room or session: a page still on its way belongs to the one before. */
  private generation = 0;

  constructor(
    private readonly control: HTMLButtonElement,
    private readonly scroller: HTMLElement,
    private readonly source: OlderSource,
  ) {
    control.addEventListener('click', () => this.load());
    scroller.addEventListener(
      'scroll',
      () => {
        if (this.scroller.scrollTop <= NEAR_TOP_PX) this.load();
      },
      { passive: true },
    );
    this.draw();
  }

  /** Another room or session. `available`: whether its connection can ask for older pages. */
  reset(available: boolean, keepMore = false): void {
    this.generation += 1;
    this.loading = false;
    this.available = available;
    if (!keepMore) this.more = undefined;
    this.draw();
  }

  /** Messages were dropped from the top of the list: there are older ones to load again. */
  trimmed(): void {
    this.more = true;
    this.draw();
  }

  /**
   * Fills an empty list (the raw endpoint sends no history; a Socket.IO room may have none)
   * with the newest page, which also says whether there is anything to load at all.
   */
  fillEmpty(): void {
    if (this.source.oldestId() === undefined) this.load();
  }

  load(): void {
    if (!this.available || this.loading || this.more === false) return;
    const generation = this.generation;
    const asked = this.source.fetch(this.source.oldestId(), OLDER_PAGE_SIZE);
    if (asked === undefined) return;
    this.loading = true;
    this.draw();
    asked.then(
      (ack) => {
        if (generation !== this.generation) return;
        this.loading = false;
        if (ack.ok) {
          this.more = ack.more;
          this.source.show(ack.messages);
        } else {
          this.source.problem(`Older messages not loaded: ${describeActionError(ack.error)}`);
        }
        this.draw();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.loading = false;
        this.source.problem(`Older messages not loaded: ${describeFailure(err)}`);
        this.draw();
      },
    );
  }

  private draw(): void {
    this.control.hidden = !this.available || this.more === false;
    this.control.disabled = this.loading;
    this.control.textContent = this.loading ? 'Loading older messages…' : 'Load older messages';
  }
}
