import type { HistoryMessage } from '../../server/protocol.js';

/** The window a room's message rate counts over. */
export const RATE_WINDOW_MS = 60_000;

/**
 * How many messages a room had in the last minute, counted from the `at` times of its
 * latest messages (deleted ones too: they were sent): the API has no counter, so the page
 * reads the newest `limit` and counts those inside the window. When every one read is
 * inside it and older ones exist, there were at least that many: `atLeast`.
 */
export interface Rate {
  count: number;
  atLeast: boolean;
}

/** `latest`: the room's newest messages, oldest first; `more`: older ones exist; `now` by the server's clock. */
export function messageRate(latest: readonly HistoryMessage[], more: boolean, now: number): Rate {
  const since = now - RATE_WINDOW_MS;
  const count = latest.filter((message) => message.at > since).length;
  return { count, atLeast: more && count === latest.length };
}

/** `12 messages in the last minute`, `100+ messages in the last minute`. */
export function rateWords(rate: Rate): string {
  const count = `${rate.count}${rate.atLeast ? '+' : ''}`;
  return `${count} ${rate.count === 1 && !rate.atLeast ? 'message' : 'messages'} in the last minute`;
}
