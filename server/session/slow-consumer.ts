/**
 * Who counts as a slow consumer: a client that does not drain, not one whose buffer is
 * momentarily large.
 *
 * A reader on a good connection can still have megabytes unsent for a moment: one burst
 * of allowed messages (RATE_BURST x MAX_MESSAGE_BYTES, six times that once JSON escapes
 * control characters) or a newcomer's history is written in one go. Cutting on the size
 * seen right after a write cut such readers although they read as fast as the network
 * allows. So the rule looks at progress over time:
 *
 * - above `softBytes` (MAX_BUFFERED_BYTES) without once getting back under it for
 *   `graceMs` (MAX_BUFFERED_MS): the client is not keeping up; it is cut;
 * - above `ceilingBytes` (BUFFERED_CEILING_BYTES) at any moment: cut at once, so that no
 *   client can make the server hold more than that for it, whatever the grace.
 */
import type { Config } from '../config';

export interface SlowConsumerLimits {
  readonly softBytes: number;
  readonly graceMs: number;
  readonly ceilingBytes: number;
}

/** What the rule remembers of one client. */
export interface DrainState {
  /** When its unsent bytes were first seen above the soft limit, not seen below since; 0: not above. */
  overSince: number;
}

export type Verdict = 'keep' | 'cut';

export class SlowConsumerRule {
  /** The rule the settings MAX_BUFFERED_BYTES, MAX_BUFFERED_MS and BUFFERED_CEILING_BYTES describe. */
  static fromConfig(config: Pick<Config, 'maxBufferedBytes' | 'maxBufferedMs' | 'bufferedCeilingBytes'>): SlowConsumerRule {
    return new SlowConsumerRule({
      softBytes: config.maxBufferedBytes,
      graceMs: config.maxBufferedMs,
      ceilingBytes: config.bufferedCeilingBytes,
    });
  }

  constructor(
    private readonly limits: SlowConsumerLimits,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /**
   * Judges a client from `pending`, the bytes it has not yet taken, seen now. Call it
   * whenever that number is at hand (before and after each write, and on each
   * heartbeat): every look below the soft limit counts as progress.
   */
  judge(state: DrainState, pending: number): Verdict {
    if (pending > this.limits.ceilingBytes) return 'cut';
    if (pending <= this.limits.softBytes) {
      if (state.overSince !== 0) state.overSince = 0; // no store on the common path
      return 'keep';
    }
    const now = this.now();
    if (state.overSince === 0) {
      // Never 0 itself, so that a clock starting at 0 (tests) still marks the start.
      state.overSince = Math.max(now, Number.MIN_VALUE);
      return 'keep';
    }
    return now - state.overSince >= this.limits.graceMs ? 'cut' : 'keep';
  }

  /** Above the soft limit right now: a client that also missed its pong is behind, not dead. */
  isBehind(pending: number): boolean {
    return pending > this.limits.softBytes;
  }
}
