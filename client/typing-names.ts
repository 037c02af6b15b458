import { TYPING_SHOW_MS } from '../server/protocol';

/**
 * Who is typing, for the terminal's status line: each name stays until `showMs` after its
 * last typing event, or until its message arrives or it leaves. `changed` hears the names
 * (in the order they started typing) whenever the set changes.
 */
export class TypingNames {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly changed: (names: readonly string[]) => void,
    private readonly showMs = TYPING_SHOW_MS,
  ) {}

  typing(name: string): void {
    const known = this.timers.has(name);
    clearTimeout(this.timers.get(name));
    // Unref'd: a hint that has not expired yet must not keep the client from exiting.
    this.timers.set(name, setTimeout(() => this.stopped(name), this.showMs).unref());
    if (!known) this.changed([...this.timers.keys()]);
  }

  /** Their message arrived, or they left. */
  stopped(name: string): void {
    clearTimeout(this.timers.get(name));
    if (this.timers.delete(name)) this.changed([...this.timers.keys()]);
  }

  /** The connection is gone, or this is another room: nobody's hints count any more. */
  clear(): void {
    if (this.timers.size === 0) return;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.changed([]);
  }
}
