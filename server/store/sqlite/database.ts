/**
 * One open SQLite database of the store: its schema brought up to date, its statements
 * prepared, and the one transaction a turn's messages are committed in, which keeps
 * every bound (HISTORY_KEEP per room, MAX_STORED_ROOMS, MAX_STORED_BYTES) as it commits.
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { statSync, type Stats } from 'node:fs';
import type { ChatMessage } from '../../protocol';
import { jsonBytes } from '../../support/json-bytes';
import type { AppendCallback, StoreBounds } from '../message-store';
import { BUSY_TIMEOUT_MS, ensureSchema, ROW_BYTES, TOTALS } from './schema';

export interface Row {
  ms: number;
  seq: number;
  name: string;
  text: string;
  at: number;
}

/** A message appended, waiting for its turn's commit. */
export interface Pending {
  room: string;
  ms: number;
  seq: number;
  /** What it counts against MAX_STORED_BYTES. */
  bytes: number;
  message: ChatMessage;
  done: AppendCallback;
}

/** What a room holds: its row of `rooms`. */
interface RoomCounts {
  count: number;
  bytes: number;
}

/** The row TOTALS: every room's counts added up, and the newest id ever stored. */
export interface Totals {
  rooms: number;
  bytes: number;
  newestMs: number;
  newestSeq: number;
}

/** A change to the totals: `ms`-`seq` replaces the newest id if it is newer. */
interface TotalsChange {
  rooms: number;
  bytes: number;
  ms: number;
  seq: number;
}

/** One open database: its file's identity and the prepared statements of its reads and commits. */
export interface OpenDatabase {
  db: Db;
  /** The file's identity when opened: a removed or replaced file is noticed before writing to it. */
  file: Stats;
  /**
   * The identity of its write-ahead log and shared-memory index (`-wal`, `-shm`) when
   * opened: they belong to that file, and must not be applied to another one put in its place.
   */
  companions: (Stats | null)[];
  insert: Statement<[string, number, number, string, string, number]>;
  addToRoom: Statement<[string, number, number, number, number, number, number], RoomCounts>;
  touchRoom: Statement<[number, string, number]>;
  takeFromRoom: Statement<[number, number, string]>;
  trimOldest: Statement<[string, string, number], number>;
  oldest: Statement<[string, number], { ms: number; seq: number; bytes: number }>;
  dropUpTo: Statement<[string, number, number]>;
  idlest: Statement<[], { name: string; bytes: number }>;
  dropMessages: Statement<[string]>;
  dropRoom: Statement<[string]>;
  totals: Statement<[], Totals>;
  changeTotals: Statement<[TotalsChange], Totals>;
  newest: Statement<[string, number], Row>;
  after: Statement<[string, number, number, number, number], Row>;
  exists: Statement<[string, number, number], { one: number }>;
  newerThan: Statement<[string, number, number, number], { count: number }>;
  rooms: Statement<[string, number], { name: string; lastAt: number }>;
  commitBatch: (batch: readonly Pending[]) => void;
}

/** A database's statements, which its own transaction uses. */
type Statements = Omit<OpenDatabase, 'commitBatch'>;

/** The files SQLite keeps next to a database in WAL mode. */
export const COMPANIONS = ['-wal', '-shm'] as const;

export function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

export const sameFile = (a: Stats | null, b: Stats | null) => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

export const idOf = (row: { ms: number; seq: number }) => `${row.ms}-${row.seq}`;
export const messageOf = (row: Row): ChatMessage => ({ id: idOf(row), text: row.text, name: row.name, at: row.at });

/**
 * Up to `limit` messages from `rows`, read one at a time and no further than the first
 * that would pass `maxBytes` as JSON (at least one is taken), and whether any was left.
 */
export function takePage(rows: IterableIterator<Row>, limit: number, maxBytes: number): { messages: ChatMessage[]; more: boolean } {
  const messages: ChatMessage[] = [];
  let bytes = 0;
  // Leaving the loop early ends the statement (better-sqlite3 resets it).
  for (const row of rows) {
    const message = messageOf(row);
    if (maxBytes !== Number.POSITIVE_INFINITY) bytes += jsonBytes(message);
    if (messages.length === limit || (messages.length > 0 && bytes > maxBytes)) return { messages, more: true };
    messages.push(message);
  }
  return { messages, more: false };
}

/**
 * Opens the database at `path` (creating it if need be), brings its schema up to date,
 * proves it can be written now (not at the first message), and prepares its statements.
 * Throws what SQLite throws.
 */
export function openDatabase(path: string, bounds: StoreBounds): OpenDatabase {
const db = new Database(path, { fileMustExist: false, timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    ensureSchema(db);
    db.exec('CREATE TABLE IF NOT EXISTS probe (one INTEGER PRIMARY KEY CHECK (one = 1))');
    // Proves that the file can be written now, not at the first message.
    db.prepare('INSERT OR REPLACE INTO probe (one) VALUES (1)').run();
    return prepare(db, path, bounds);
  } catch (err) {
    db.close();
    throw err;
  }
}

function prepare(db: Db, path: string, bounds: StoreBounds): OpenDatabase {
  const c: Statements = {
    db,
    file: statSync(path),
    companions: COMPANIONS.map((suffix) => statOrNull(path + suffix)),
    insert: db.prepare('INSERT OR IGNORE INTO messages (room, ms, seq, name, text, at) VALUES (?, ?, ?, ?, ?, ?)'),
    // A commit's messages of one room: added to its counts, its newest message noted
    // (unless another worker's newer one is there already). Not last_s: see touchRoom.
    addToRoom: db.prepare(
      `INSERT INTO rooms (name, count, bytes, last_ms, last_seq, last_at, last_s) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         count = count + excluded.count,
         bytes = bytes + excluded.bytes,
         last_at = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_at, last_at),
         last_seq = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_seq, last_seq),
         last_ms = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_ms, last_ms)
       RETURNING count, bytes`,
    ),
    // Setting an indexed column writes the index even to the same value: only a new second does.
    touchRoom: db.prepare('UPDATE rooms SET last_s = ? WHERE name = ? AND last_s < ?'),
    takeFromRoom: db.prepare('UPDATE rooms SET count = count - ?, bytes = bytes - ? WHERE name = ?'),
    // A room's oldest messages, up to the one at the given offset from its oldest: a
    // walk of the deleted rows only. Answers each one's bytes.
    trimOldest: db
      .prepare(
        `DELETE FROM messages WHERE room = ? AND (ms, seq) <= (
           SELECT ms, seq FROM messages WHERE room = ? ORDER BY ms, seq LIMIT 1 OFFSET ?)
         RETURNING ${ROW_BYTES}`,
      )
      .pluck() as Statement<[string, string, number], number>,
    oldest: db.prepare(`SELECT ms, seq, ${ROW_BYTES} AS bytes FROM messages WHERE room = ? ORDER BY ms, seq LIMIT ?`),
    dropUpTo: db.prepare('DELETE FROM messages WHERE room = ? AND (ms, seq) <= (?, ?)'),
    // The rooms by their newest message, the one idle longest first: the index gives the
    // seconds in order, each second's few rooms are sorted as they come.
    idlest: db.prepare(`SELECT name, bytes FROM rooms WHERE name <> '${TOTALS}' ORDER BY last_s, last_ms, last_seq`),
    dropMessages: db.prepare('DELETE FROM messages WHERE room = ?'),
    dropRoom: db.prepare('DELETE FROM rooms WHERE name = ?'),
    totals: db.prepare(`SELECT count AS rooms, bytes, last_ms AS newestMs, last_seq AS newestSeq FROM rooms WHERE name = '${TOTALS}'`),
    // Every SET reads the row as it was before this update.
    changeTotals: db.prepare(
      `UPDATE rooms SET
         count = count + @rooms,
         bytes = bytes + @bytes,
         last_ms = iif((@ms, @seq) > (last_ms, last_seq), @ms, last_ms),
         last_seq = iif((@ms, @seq) > (last_ms, last_seq), @seq, last_seq)
       WHERE name = '${TOTALS}'
       RETURNING count AS rooms, bytes, last_ms AS newestMs, last_seq AS newestSeq`,
    ),
    newest: db.prepare('SELECT ms, seq, name, text, at FROM messages WHERE room = ? ORDER BY ms DESC, seq DESC LIMIT ?'),
    after: db.prepare(
      'SELECT ms, seq, name, text, at FROM messages WHERE room = ? AND ms >= ? AND (ms, seq) > (?, ?) ORDER BY ms, seq LIMIT ?',
    ),
    exists: db.prepare('SELECT 1 AS one FROM messages WHERE room = ? AND ms = ? AND seq = ?'),
    // Bounded by LIMIT: counts up to HISTORY_KEEP rows at most.
    newerThan: db.prepare(
      'SELECT count(*) AS count FROM (SELECT 1 FROM messages WHERE room = ? AND (ms, seq) > (?, ?) LIMIT ?)',
    ),
    // From after TOTALS ('') at least: it sorts before every room.
    rooms: db.prepare('SELECT name, last_at AS lastAt FROM rooms WHERE name > ? ORDER BY name LIMIT ?'),
  };
  // Per commit: each message's row; per room written, one update of its counts and the
  // trim of what is past HISTORY_KEEP; one update of the totals; and, only past a
  // bound, the rooms idle longest dropped.
  const commitBatch = db.transaction((batch: readonly Pending[]) => {
    const written = new Map<string, { count: number; bytes: number; last: Pending }>();
    for (const p of batch) {
      c.insert.run(p.room, p.ms, p.seq, p.message.name, p.message.text, p.message.at);
      const room = written.get(p.room);
      if (room === undefined) written.set(p.room, { count: 1, bytes: p.bytes, last: p });
      else {
        room.count += 1;
        room.bytes += p.bytes;
        room.last = p;
      }
    }
    const keep = bounds.keep;
    const change: TotalsChange = { rooms: 0, bytes: 0, ms: 0, seq: 0 };
    const held = new Map<string, RoomCounts>();
    for (const [room, added] of written) {
      const { last } = added;
      const second = Math.floor(last.ms / 1000);
      let counts = c.addToRoom.get(room, added.count, added.bytes, last.ms, last.seq, last.message.at, second) as RoomCounts;
      if (counts.count === added.count) change.rooms += 1;
      c.touchRoom.run(second, room, second);
      change.bytes += added.bytes;
      if (counts.count > keep) {
        const excess = counts.count - keep;
        const freed = sum(c.trimOldest.all(room, room, excess - 1));
        c.takeFromRoom.run(excess, freed, room);
        counts = { count: keep, bytes: counts.bytes - freed };
        change.bytes -= freed;
      }
      held.set(room, counts);
    }
    // Ids only increase within a batch: its last message is its newest.
    const newest = batch[batch.length - 1] as Pending;
    change.ms = newest.ms;
    change.seq = newest.seq;
    const totals = c.changeTotals.get(change) as Totals;
    if (overBounds(bounds, totals.rooms, totals.bytes)) makeRoom(c, bounds, totals, held);
  });
  return { ...c, commitBatch };
}

/** Whether `rooms` rooms holding `bytes` are past MAX_STORED_ROOMS or MAX_STORED_BYTES. */
function overBounds(bounds: StoreBounds, rooms: number, bytes: number): boolean {
  const { maxRooms, maxBytes } = bounds;
  return (maxRooms > 0 && rooms > maxRooms) || (maxBytes > 0 && bytes > maxBytes);
}

/**
 * Past a bound, in the commit's transaction: the rooms idle longest go, whole, except
 * the ones this commit wrote (`written`, with what each holds now). If those alone are
 * still over MAX_STORED_BYTES, their oldest messages go, the largest room's first; each
 * keeps at least its newest message.
 */
function makeRoom(c: Statements, bounds: StoreBounds, totals: Totals, written: ReadonlyMap<string, RoomCounts>): void {
  let { rooms, bytes } = totals;
  const idle: { name: string; bytes: number }[] = [];
  for (const room of c.idlest.iterate()) {
    if (!overBounds(bounds, rooms, bytes)) break;
    if (written.has(room.name)) continue;
    idle.push(room);
    rooms -= 1;
    bytes -= room.bytes;
  }
  for (const { name } of idle) {
    c.dropMessages.run(name);
    c.dropRoom.run(name);
  }
  const { maxBytes } = bounds;
  if (maxBytes > 0 && bytes > maxBytes) bytes -= trimWritten(c, written, bytes - maxBytes);
  c.changeTotals.run({ rooms: rooms - totals.rooms, bytes: bytes - totals.bytes, ms: 0, seq: 0 });
}

/** Deletes the oldest messages of the rooms in `written` until `excess` bytes are freed; answers the bytes freed. */
function trimWritten(c: Statements, written: ReadonlyMap<string, RoomCounts>, excess: number): number {
  let freed = 0;
  for (const [room, counts] of [...written].sort(([, a], [, b]) => b.bytes - a.bytes)) {
    if (freed >= excess) break;
    let count = 0;
    let bytes = 0;
    let upTo: { ms: number; seq: number } | null = null;
    for (const row of c.oldest.iterate(room, counts.count - 1)) {
      count += 1;
      bytes += row.bytes;
      upTo = row;
      if (freed + bytes >= excess) break;
    }
    if (upTo === null) continue;
    c.dropUpTo.run(room, upTo.ms, upTo.seq);
    c.takeFromRoom.run(count, bytes, room);
    freed += bytes;
  }
  return freed;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
