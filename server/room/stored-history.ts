import type { HistoryMessage } from '../protocol';
import type { MessageStore, StoredPage } from '../store/message-store';

/** The most messages one read of stored history returns, however small they are. */
const STORE_PAGE_LIMIT = 1000;

/**
 * `room`'s newest `size` stored messages, read once `heard` resolves (the other nodes'
 * events of the room reach this node: nothing falls between the two): at once when the
 * store answers at once, else later. `unavailable` hears why none could be read; the room
 * then starts without them.
 */
export function loadRecent(
  store: MessageStore,
  room: string,
  size: number,
  heard: Promise<void> | undefined,
  unavailable: (err: unknown) => void,
): readonly HistoryMessage[] | Promise<readonly HistoryMessage[]> {
  const load = (): readonly HistoryMessage[] | Promise<readonly HistoryMessage[]> => {
    try {
      return store.recent(room, size);
    } catch (err) {
      unavailable(err);
      return [];
    }
  };
  // A bus that cannot listen (Redis down) is no reason to keep clients out: they get what is stored.
  const stored = heard === undefined ? load() : heard.then(load, load);
  return Array.isArray(stored) ? stored : Promise.resolve(stored).catch((err: unknown) => (unavailable(err), []));
}

/** A page of `room`'s stored messages after `since` (the newest when undefined), within `maxBytes` as JSON. */
export function readAfter(store: MessageStore, room: string, since: string | undefined, maxBytes = Number.POSITIVE_INFINITY): StoredPage | Promise<StoredPage> {
  return store.read(room, { since, limit: STORE_PAGE_LIMIT, maxBytes });
}

/**
 * The stored messages after `id`, within `maxBytes` as JSON, or null when `id` is not
 * stored (or the store cannot say now): what came before them may be missing.
 */
export function storedAfter(store: MessageStore, room: string, id: string, maxBytes: number): HistoryMessage[] | null | Promise<HistoryMessage[] | null> {
  try {
    const page = readAfter(store, room, id, maxBytes);
    if (page instanceof Promise) return page.then((read) => (read.complete ? read.messages : null));
    return page.complete ? page.messages : null;
  } catch {
    return null;
  }
}
