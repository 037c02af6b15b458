import { TYPING_SHOW_MS } from '../../server/protocol.js';
import { typingSummary } from '../shared/format.js';

/** "alice is typing…": each name shows until TYPING_SHOW_MS after its last typing event. */
export class TypingIndicator {
  private readonly timers = new Map<string, number>();

  constructor(private readonly line: HTMLElement) {}

  typing(name: string): void {
    window.clearTimeout(this.timers.get(name));
    this.timers.set(name, window.setTimeout(() => this.stopped(name), TYPING_SHOW_MS));
    this.render();
  }

  /** Their message arrived, or they left. */
  stopped(name: string): void {
    window.clearTimeout(this.timers.get(name));
    if (this.timers.delete(name)) this.render();
  }

  clear(): void {
    for (const timer of this.timers.values()) window.clearTimeout(timer);
    this.timers.clear();
    this.render();
  }

  private render(): void {
    this.line.textContent = typingSummary([...this.timers.keys()]);
  }
}
