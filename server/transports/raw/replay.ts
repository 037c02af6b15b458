import { WebSocket } from 'ws';
import { HISTORY_INCOMPLETE_TEXT, type HistoryMessage, type RawJsonFrame, type RawResumeFrame, type RawTombstoneFrame } from '../../protocol';
import type { RawClient } from './client';

/**
 * The most a resuming client is sent at once, as JSON: the next page waits until the
 * client has taken it, so what the server holds for one reader stays this small however
 * much it missed, and no reader holds the event loop for longer than one page takes.
 */
export const REPLAY_PAGE_BYTES = 256 * 1024;

/**
 * `?since=<id>`: sends `client` the chat messages after that id (their latest versions,
 * and tombstones), a page at a time as it drains, then calls `join` in the same turn as a
 * read from memory that found nothing more, so that it misses nothing published
 * meanwhile. A page the store answers later (Redis) is followed by a look at memory,
 * which holds whatever came while the store answered. When the room no longer has (or
 * never had) message `since`, it is told so instead, and joins at once.
 *
 * A client that stops reading never gets its next page; it is left to the heartbeat and
 * the slow-consumer rule, like any reader, and `join` is never called.
 */
export function replayMissed(client: RawClient, since: string, join: () => void): void {
  let after = since;
  const step = (): void => {
    if (client.readyState !== WebSocket.OPEN) return;
    const page = client.member.room.messagesAfter(after, REPLAY_PAGE_BYTES);
    if (page instanceof Promise) {
      page.then(
        (found) => send(found, true),
        () => send(null, true),
      );
      return;
    }
    send(page, false);
  };
  const send = (page: readonly HistoryMessage[] | null, late: boolean): void => {
    if (client.readyState !== WebSocket.OPEN) return;
    if (page === null) {
      // `since` is unknown; or, rarely, a later page's start is gone too (trimmed while
      // the client read): said all the same.
      const frame: RawResumeFrame = { type: 'notice', kind: 'history_incomplete', text: HISTORY_INCOMPLETE_TEXT, since, at: Date.now() };
      client.send(JSON.stringify(frame));
      join();
      return;
    }
    const last = page.at(-1);
    if (last === undefined) {
      if (!late) return join();
      // Caught up with the store: what came while it answered is in memory, if anywhere
      // (not the store again, which could go on for ever while this node's memory lags).
      const meanwhile = client.member.room.messagesAfter(after, REPLAY_PAGE_BYTES, false);
      if (meanwhile === null || meanwhile instanceof Promise || meanwhile.length === 0) return join();
      return send(meanwhile, false);
    }
    const socket = client.socket;
    // One system call for the page rather than one per message.
    socket.cork();
    for (const message of page) {
      const frame: RawJsonFrame | RawTombstoneFrame = { type: 'chat', ...message };
      client.send(JSON.stringify(frame));
    }
    socket.uncork();
    after = last.id;
    if (socket.writableNeedDrain) socket.once('drain', step);
    else setImmediate(step);
  };
  step();
}
