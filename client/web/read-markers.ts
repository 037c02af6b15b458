import type { ReadAck, ReadMarker } from '../../server/protocol.js';

/** How long after a change the reader's position is looked at: one marker for a burst of messages or a scroll. */
const SETTLE_MS = 400;
/** Names shown under one message; more are counted. */
const MAX_NAMES = 5;

/** What ReadTracker needs of the list. */
export interface ReadPosition {
  /** The newest message that is not deleted, if any. */
  newestId(): string | undefined;
  atBottom(): boolean;
}

/**
 * Marks the newest message read while the reader can see it: the tab is visible and the
 * list is at the bottom. Looked at a moment after something changes (new messages,
 * scrolling, the tab shown again), and sent only when the newest message is another one
 * than the last marker's.
 */
export class ReadTracker {
  private mark: ((id: string) => Promise<ReadAck>) | undefined;
  private marked: string | undefined;
  private timer: number | undefined;

  constructor(
    scroller: HTMLElement,
    private readonly position: ReadPosition,
  ) {
    scroller.addEventListener('scroll', () => this.check(), { passive: true });
    document.addEventListener('visibilitychange', () => this.check());
    window.addEventListener('focus', () => this.check());
  }

  /** Another session: its markers go through `mark`; undefined where the connection has none. */
  reset(mark: ((id: string) => Promise<ReadAck>) | undefined): void {
    window.clearTimeout(this.timer);
    this.timer = undefined;
    this.mark = mark;
    this.marked = undefined;
  }

  /** Something changed that may have brought a newer message into view. */
  check(): void {
    if (this.mark === undefined || this.timer !== undefined) return;
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      this.send();
    }, SETTLE_MS);
  }

  private send(): void {
    const mark = this.mark;
    if (mark === undefined || document.visibilityState !== 'visible' || !this.position.atBottom()) return;
    const newest = this.position.newestId();
    if (newest === undefined || newest === this.marked) return;
    this.marked = newest;
    // A marker refused (the message deleted meanwhile, the connection gone) is only a hint
    // lost: the next newest message sends another.
    mark(newest).then(
      (ack) => {
        if (!ack.ok && this.marked === newest) this.marked = undefined;
      },
      () => {
        if (this.marked === newest) this.marked = undefined;
      },
    );
  }
}

/**
 * "seen by Ann, Bob": each other reader's newest read marker, shown under that message.
 * A reader who reads on moves to the later message. Markers of messages not on the page
 * (not loaded yet) wait until they are.
 */
export class SeenBy {
  /** Reader (user with JWT, else name) to their marker. */
  private readonly markers = new Map<string, { name: string; id: string }>();

  constructor(private readonly show: (id: string, names: readonly string[]) => boolean) {}

  clear(): void {
    this.markers.clear();
  }

  /** `self`: the marker is this reader's own (another tab of theirs, or this one): not shown. */
  marker(marker: ReadMarker, self: boolean): void {
    if (self) return;
    const reader = marker.user === undefined ? `name:${marker.name}` : `user:${marker.user}`;
    const before = this.markers.get(reader);
    this.markers.set(reader, { name: marker.name, id: marker.id });
    if (before !== undefined && before.id !== marker.id) this.draw(before.id);
    this.draw(marker.id);
  }

  /** Draws every marker again, for messages that have just come onto the page. */
  drawAll(): void {
    for (const id of new Set([...this.markers.values()].map((marker) => marker.id))) this.draw(id);
  }

  private draw(id: string): void {
    const names = [...this.markers.values()]
      .filter((marker) => marker.id === id)
      .map((marker) => marker.name)
      .sort((a, b) => a.localeCompare(b));
    const shown = names.length > MAX_NAMES ? [...names.slice(0, MAX_NAMES), `${names.length - MAX_NAMES} more`] : names;
    this.show(id, shown);
  }
}
