import { setTimeout as sleep } from 'node:timers/promises';
import { withDeadline } from '../support/deadline';

/** Ends one client, and resolves once its connection has closed. */
export type Ending = () => Promise<void>;

/** The finest step of the schedule: clients due within it end together. */
const TICK_MS = 10;

/**
 * A drain: ends every client, the k-th of n (in a random order, whatever its kind or
 * room) at k/n of `windowMs`, so that their reconnects reach the other nodes spread over
 * the window instead of all in the same second. Resolves once all have closed, or
 * `graceMs` after the last was told to, whichever comes first: the rest is then cut.
 */
export async function drain(endings: readonly Ending[], windowMs: number, graceMs: number): Promise<void> {
  const order = shuffled(endings);
  const closed: Promise<void>[] = [];
  const started = performance.now();
  for (let k = 0; k < order.length; ) {
    const elapsed = performance.now() - started;
    const due = windowMs === 0 ? order.length : Math.min(order.length, Math.floor((elapsed * order.length) / windowMs) + 1);
    for (; k < due; k += 1) closed.push((order[k] as Ending)());
    if (k < order.length) await sleep(Math.max(TICK_MS, (k * windowMs) / order.length - elapsed));
  }
  await withDeadline(Promise.all(closed), graceMs);
}

/** A copy of `items` in a uniformly random order (Fisher-Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
