import { performance } from 'node:perf_hooks';
import { atTurnEnd } from '../support/turn-end';

/** Below this, a pause is not worth a timer: the flush runs in the current turn. */
const MIN_PAUSE_MS = 1;
/** The pause after a flush, as a share of that flush's duration. */
const PAUSE_SHARE = 0.25;

/**
 * Decides when a broadcast flush runs: at the end of the current event-loop turn
 * (`atTurnEnd`, after the store's commit of the turn), unless the previous flush was
 * expensive and has just ended, in which case it waits for a quarter of that flush's
 * duration first.
 *
 * Why: the server accepts one connection per loop turn (libuv/libuv#3696), so in a join
 * storm every turn holds one join, and a flush per turn writes to all N clients for
 * every join: N x N writes. Pausing after an expensive flush lets the joins (or
 * messages) of several turns share one write per client, while flushes take at most
 * four fifths of the time. A flush to a few clients takes microseconds and never pauses,
 * so a lone message still leaves in the turn it was published. A quarter, not more: at a
 * steady rate the pause must end before the next message arrives, or pacing would add
 * latency where there is no storm to batch.
 */
export class FlushPacer {
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private notBefore = 0;
  private readonly run = (): void => this.flushNow();

  /**
   * @param now the clock that times flushes (milliseconds); tests give one they move themselves.
   * @param pauseShare the pause after a flush, as a share of its duration (a quarter unless
   *   told), read after each flush.
   */
  constructor(
    private readonly flush: () => void,
    private readonly now: () => number = () => performance.now(),
    private readonly pauseShare: () => number = () => PAUSE_SHARE,
  ) {}

  /** Asks for a flush; any number of requests before it runs make one flush. */
  request(): void {
    if (this.pending) return;
    this.pending = true;
    const wait = this.notBefore - this.now();
    if (wait <= 0) atTurnEnd(this.run);
    else if (wait < MIN_PAUSE_MS) setImmediate(this.runWhenDue);
    else this.timer = setTimeout(this.run, wait);
  }

  /**
   * A pause shorter than a timer can time: the flush waits for the loop's next turns
   * (each polls for I/O, so messages arriving meanwhile join it) until the pause is over.
   */
  private readonly runWhenDue = (): void => {
    if (!this.pending) return;
    if (this.now() >= this.notBefore) this.flushNow();
    else setImmediate(this.runWhenDue);
  };

  /** Flushes at once (a requested flush that is still waiting then finds nothing to do). */
  flushNow(): void {
    this.pending = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const start = this.now();
    this.flush();
    const end = this.now();
    this.notBefore = end + (end - start) * this.pauseShare();
  }
}
