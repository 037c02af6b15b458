import { isDeepStrictEqual } from 'node:util';

/**
 * Collects what a client receives, in order, and hands it out to a test one item at a
 * time. Waiting for an item that never comes fails with a message saying what was
 * awaited instead of hanging until jest's timeout.
 */
export class EventQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: { resolve: (item: T) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }[] = [];

  constructor(private readonly label: string) {}

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      this.items.push(item);
      return;
    }
    clearTimeout(waiter.timer);
    waiter.resolve(item);
  }

  /** Items received and not yet taken. */
  get pending(): readonly T[] {
    return this.items;
  }

  next(timeoutMs = 5_000): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`${this.label}: nothing arrived within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  async take(count: number, timeoutMs = 5_000): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < count; i += 1) out.push(await this.next(timeoutMs));
    return out;
  }

  /**
   * Proves that nothing arrived: waits for a marker the test sent on the same path after
   * whatever must not arrive (once the marker is here, anything sent before it would have
   * been too) and fails if anything else came first. Takes the marker.
   */
  async expectNothingBefore(marker: T | ((item: T) => boolean), what = JSON.stringify(marker), timeoutMs = 5_000): Promise<void> {
    const isMarker = typeof marker === 'function' ? (marker as (item: T) => boolean) : (item: T) => isDeepStrictEqual(item, marker);
    let item: T;
    try {
      item = await this.next(timeoutMs);
    } catch {
      throw new Error(`${this.label}: the marker (${what}) did not arrive within ${timeoutMs} ms`);
    }
    if (!isMarker(item)) {
      throw new Error(`${this.label}: expected nothing before the marker (${what}), got ${JSON.stringify(item)}`);
    }
  }
}
