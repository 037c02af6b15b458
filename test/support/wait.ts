/**
 * The two ways a test waits, both bounded so that a wait that never ends fails naming
 * what it waited for instead of hanging until jest's timeout.
 */

/**
 * Polls `condition` (which may be async: an HTTP status, a metric) until it holds. The
 * 10 ms between polls is the polling rate, not a guess at how long anything takes.
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Awaits `work`, failing naming `what` if it has not settled within `timeoutMs`. */
export function within<T>(work: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The next turn of the event loop: what was scheduled for the end of this one (setImmediate) has run. */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
