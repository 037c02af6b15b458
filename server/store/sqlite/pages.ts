/**
 * What the SQLite store reads: a room's messages a page at a time (the newest, before an
 * id, after an id), each with its reactions, the rooms by name, and a user's rooms with
 * what is unread there. Every read is bounded by its page, never by what a room holds.
 */
import type { Database as Db } from 'better-sqlite3';
import type { ChatMessage, HistoryMessage, UserRoom } from '../../protocol';
import { jsonBytes } from '../../support/json-bytes';
import { tombstoneOf } from '../changes';
import { idParts } from '../message-id';
import { withinBytes, type ReadQuery, type StoredPage, type StoredRoom } from '../message-store';
import { TOTALS } from './schema';

/**
 * A row of `messages` as the reads select it (COLUMNS), as an array: better-sqlite3 makes
 * one faster than an object with its keys, and a page reads many.
 */
type Row = [ms: number, seq: number, name: string, text: string, at: number, user: string | null, version: number, editedAt: number | null, deleted: number];

interface ReactionRow {
  ms: number;
  seq: number;
  emoji: string;
  count: number;
}

/** The first and the last row of a page, in the order it was read. */
interface Span {
  first: Row;
  last: Row;
}

const COLUMNS = 'ms, seq, name, text, at, user, version, edited_at, deleted';

export const idOf = (row: { ms: number; seq: number }) => `${row.ms}-${row.seq}`;

/** A row as history shows it: the sender, version and time of edit only when there are any; a deleted one as its tombstone. */
function messageOf(row: Row): HistoryMessage {
  const [ms, seq, name, text, at, user, version, editedAt, deleted] = row;
  if (deleted !== 0) return tombstoneOf({ id: `${ms}-${seq}`, at });
  const message: ChatMessage = { id: `${ms}-${seq}`, text, name, at };
  if (user !== null) message.user = user;
  if (version > 0) {
    message.version = version;
    message.editedAt = editedAt ?? at;
  }
  return message;
}

export interface Reads {
  /** The newest `limit` messages of `room`, oldest first. */
  recent(room: string, limit: number): HistoryMessage[];
  /** A page of `room` for `query` (MessageStore.read); `keep`: HISTORY_KEEP, beyond which a `since` is gone. */
  page(room: string, query: ReadQuery, keep: number): StoredPage;
  rooms(after: string | undefined, limit: number): StoredRoom[];
  /** `keep` bounds the count of unread messages per room: no room holds more. */
  userRooms(user: string, limit: number, keep: number): UserRoom[];
}

export function prepareReads(db: Db): Reads {
  const newest = db
    .prepare<[string, number], Row>(`SELECT ${COLUMNS} FROM messages WHERE room = ? ORDER BY ms DESC, seq DESC LIMIT ?`)
    .raw();
  // `ms` bounded alone as well: the index is then entered at the right place.
  const before = db
    .prepare<[string, number, number, number, number], Row>(
      `SELECT ${COLUMNS} FROM messages WHERE room = ? AND ms <= ? AND (ms, seq) < (?, ?) ORDER BY ms DESC, seq DESC LIMIT ?`,
    )
    .raw();
  const after = db
    .prepare<[string, number, number, number, number], Row>(
      `SELECT ${COLUMNS} FROM messages WHERE room = ? AND ms >= ? AND (ms, seq) > (?, ?) ORDER BY ms, seq LIMIT ?`,
    )
    .raw();
  const exists = db.prepare<[string, number, number], { one: number }>('SELECT 1 AS one FROM messages WHERE room = ? AND ms = ? AND seq = ?');
  // Bounded by LIMIT: counts up to HISTORY_KEEP rows at most; asked only of a room that holds more.
  const newerThan = db.prepare<[string, number, number, number], { count: number }>(
    'SELECT count(*) AS count FROM (SELECT 1 FROM messages WHERE room = ? AND (ms, seq) > (?, ?) LIMIT ?)',
  );
  const roomCount = db.prepare<[string], number>('SELECT count FROM rooms WHERE name = ?').pluck();
  // One query for a whole page: the reactions of every message between two ids (in a
  // room without any, one look into an empty part of the index).
  const reactions = db.prepare<[string, number, number, number, number, number, number], ReactionRow>(
    `SELECT ms, seq, emoji, count(*) AS count FROM reactions
     WHERE room = ? AND ms >= ? AND ms <= ? AND (ms, seq) >= (?, ?) AND (ms, seq) <= (?, ?)
     GROUP BY ms, seq, emoji`,
  );
  // From after TOTALS ('') at least: it sorts before every room.
  const rooms = db.prepare<[string, number], { name: string; lastAt: number }>(
    'SELECT name, last_at AS lastAt FROM rooms WHERE name > ? ORDER BY name LIMIT ?',
  );
  // A room without messages has no row in `rooms` (or, trimmed to none, a count of 0).
  const userRooms = db.prepare<
    { user: string; limit: number; keep: number },
    { name: string; readMs: number; readSeq: number; lastMs: number; lastSeq: number; unread: number }
  >(
    `SELECT r.room AS name, r.ms AS readMs, r.seq AS readSeq, o.last_ms AS lastMs, o.last_seq AS lastSeq,
       (SELECT count(*) FROM (
          SELECT 1 FROM messages m
          WHERE m.room = r.room AND m.ms >= r.ms AND (m.ms, m.seq) > (r.ms, r.seq) AND m.deleted = 0
          LIMIT @keep)) AS unread
     FROM reads r JOIN rooms o ON o.name = r.room
     WHERE r.user = @user AND o.count > 0
     ORDER BY r.room LIMIT @limit`,
  );

  /** Puts on each of `messages` its reactions, read in one query for the ids from `span.first` to `span.last`; true if any. */
  function addReactions(room: string, messages: HistoryMessage[], span: Span): boolean {
    const [[firstMs, firstSeq], [lastMs, lastSeq]] = [span.first, span.last];
    const rows =
      firstMs < lastMs || (firstMs === lastMs && firstSeq <= lastSeq)
        ? reactions.all(room, firstMs, lastMs, firstMs, firstSeq, lastMs, lastSeq)
        : reactions.all(room, lastMs, firstMs, lastMs, lastSeq, firstMs, firstSeq);
    if (rows.length === 0) return false;
    const byId = new Map<string, ChatMessage>();
    for (const message of messages) if (!('deleted' in message)) byId.set(message.id, message);
    for (const row of rows) {
      const message = byId.get(idOf(row));
      if (message === undefined) continue;
      // No prototype: an emoji such as `__proto__` is a key like any other.
      message.reactions ??= Object.create(null) as Record<string, number>;
      message.reactions[row.emoji] = row.count;
    }
    return true;
  }

  /**
   * Up to `limit` messages from `rows`, read one at a time and no further than the first
   * that would pass `maxBytes` as JSON (at least one is taken), with their reactions, and
   * whether any was left. Reactions only add bytes: the page is cut again once they are on.
   */
  function takePage(room: string, rows: IterableIterator<Row>, limit: number, maxBytes: number): { messages: HistoryMessage[]; more: boolean } {
    const messages: HistoryMessage[] = [];
    let bytes = 0;
    let more = false;
    let first: Row | null = null;
    let last: Row | null = null;
    // Leaving the loop early ends the statement (better-sqlite3 resets it).
    for (const row of rows) {
      const message = messageOf(row);
      if (maxBytes !== Number.POSITIVE_INFINITY) bytes += jsonBytes(message);
      if (messages.length === limit || (messages.length > 0 && bytes > maxBytes)) {
        more = true;
        break;
      }
      messages.push(message);
      first ??= row;
      last = row;
    }
    if (first === null || last === null || !addReactions(room, messages, { first, last }) || maxBytes === Number.POSITIVE_INFINITY) return { messages, more };
    const fitting = withinBytes(messages, maxBytes);
    return { messages: fitting, more: more || fitting.length < messages.length };
  }

  return {
    recent(room, limit) {
      if (limit === 0) return [];
      const rows = newest.all(room, limit).reverse();
      const messages = rows.map(messageOf);
      if (rows.length > 0) addReactions(room, messages, { first: rows[0] as Row, last: rows[rows.length - 1] as Row });
      return messages;
    },

    page(room, query, keep) {
      const { limit, maxBytes = Number.POSITIVE_INFINITY } = query;
      if (query.since === undefined) {
        // An id that is no id has nothing before it.
        const [ms, seq] = query.before === undefined ? [0, 0] : (idParts(query.before) ?? [0, 0]);
        const rows = query.before === undefined ? newest.iterate(room, limit + 1) : before.iterate(room, ms, ms, seq, limit + 1);
        const { messages, more } = takePage(room, rows, limit, maxBytes);
        return { messages: messages.reverse(), complete: true, more };
      }
      const [ms, seq] = idParts(query.since) ?? [0, 0];
      const { messages, more } = takePage(room, after.iterate(room, ms, ms, seq, limit + 1), limit, maxBytes);
      // A room not written since HISTORY_KEEP was lowered still holds more; to a reader
      // those are gone already.
      // Every message of a room within HISTORY_KEEP is kept: its count (one row) says so.
      const kept =
        exists.get(room, ms, seq) !== undefined && ((roomCount.get(room) ?? 0) <= keep || (newerThan.get(room, ms, seq, keep)?.count ?? 0) < keep);
      return { messages, complete: kept, more };
    },

    rooms(from, limit) {
      return rooms.all(from ?? TOTALS, limit).map(({ name, lastAt }) => ({ name, lastMessageAt: lastAt }));
    },

    userRooms(user, limit, keep) {
      return userRooms.all({ user, limit, keep }).map((row) => ({
        name: row.name,
        lastId: idOf({ ms: row.lastMs, seq: row.lastSeq }),
        lastReadId: idOf({ ms: row.readMs, seq: row.readSeq }),
        unread: row.unread,
      }));
    },
  };
}
