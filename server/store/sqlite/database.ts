/**
 * One open SQLite database of the store: its schema brought up to date, its statements
 * prepared, and the one transaction a turn's messages and changes are committed in,
 * which keeps every bound (HISTORY_KEEP per room, MAX_STORED_ROOMS, MAX_STORED_BYTES) as
 * it commits.
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { statSync, unlinkSync, type Stats } from 'node:fs';
import type { ChatMessage } from '../../protocol';
import type { AppendCallback, ChangeCallback, ChangeRefusal, ChangeResult, MessageChange, StoreBounds } from '../message-store';
import type { MemberRef } from '../event-outbox';
import { createdEvent, deletedEvent, editedEvent, type NewEvent } from '../webhook-events';
import { prepareChanges, ROOM_COUNTS, type Made, type RoomCounts } from './changes';
import { prepareOutbox, type OutboxReader, type OutboxWriter } from './outbox';
import { prepareReads, type Reads } from './pages';
import { BUSY_TIMEOUT_MS, ensureSchema, ROW_BYTES, TOTALS } from './schema';

/** A message appended, waiting for its turn's commit. */
export interface PendingMessage {
  room: string;
  ms: number;
  seq: number;
  /** What it counts against MAX_STORED_BYTES. */
  bytes: number;
  message: ChatMessage;
  done: AppendCallback;
}

/** A change asked for, waiting for its turn's commit; `outcome` is what it made, once made. */
export interface PendingChange {
  room: string;
  change: MessageChange;
  done: ChangeCallback;
  outcome: ChangeResult | ChangeRefusal | null;
}

/** A webhook event that describes no message (moderation), or a member's connection come or gone. */
export type PendingEvent =
  | { room: string | null; event: NewEvent }
  | { room: string; member: MemberRef; delta: 1 | -1; at: number };

/** What a turn's commit writes, in the order it was asked for. */
export type Pending = PendingMessage | PendingChange | PendingEvent;

/** The outbox of a store with webhooks on: this node's name among the workers sharing the file. */
export interface OutboxOptions {
  node: string;
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

/** One open database: its file's identity, its reads, and its commit. */
export interface OpenDatabase {
  db: Db;
  /** The file's identity when opened: a removed or replaced file is noticed before writing to it. */
  file: Stats;
  /**
   * The identity of its write-ahead log and shared-memory index (`-wal`, `-shm`) when
   * opened: they belong to that file, and must not be applied to another one put in its place.
   */
  companions: (Stats | null)[];
  totals: Statement<[], Totals>;
  reads: Reads;
  /** The webhook outbox's reads and lease; null with webhooks off. */
  outbox: OutboxReader | null;
  commitBatch: (batch: readonly Pending[]) => void;
}

/** The row TOTALS, read. */
const TOTALS_ROW = `SELECT count AS rooms, bytes, last_ms AS newestMs, last_seq AS newestSeq FROM rooms WHERE name = '${TOTALS}'`;

/**
 * The statements of a commit. None has a RETURNING clause: SQLite gathers what one returns
 * in a table of its own, made and freed per run; a write, then a read of the row, costs
 * less (BENCHMARKS.md, issue #25: four `brk` calls a commit fewer).
 */
interface Statements {
  insert: Statement<[string, number, number, string, string, number, string | null]>;
  addToRoom: Statement<[string, number, number, number, number, number, number]>;
  roomCounts: Statement<[string], RoomCounts>;
  touchRoom: Statement<[number, string, number]>;
  takeFromRoom: Statement<[number, number, number, string]>;
  trimReactions: Statement<[string, string, number]>;
  bytesUpTo: Statement<[string, string, number], number>;
  trimOldest: Statement<[string, string, number]>;
  oldest: Statement<[string, number], { ms: number; seq: number; bytes: number }>;
  dropUpTo: Statement<[string, number, number]>;
  dropReactionsUpTo: Statement<[string, number, number]>;
  idlest: Statement<[], { name: string; bytes: number; reactions: number }>;
  dropMessages: Statement<[string]>;
  dropRoomReactions: Statement<[string]>;
  dropReads: Statement<[string]>;
  dropRoom: Statement<[string]>;
  changeTotals: Statement<[TotalsChange]>;
  totals: Statement<[], Totals>;
  make: (room: string, change: MessageChange) => Made;
}

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

/**
 * Opens the database at `path` (creating it if need be), brings its schema up to date,
 * proves it can be written now (not at the first message), and prepares its statements.
 * Throws what SQLite throws.
 */
export function openDatabase(path: string, bounds: StoreBounds, events: OutboxOptions | null = null): OpenDatabase {
  return openWalFile(path, (db) => {
    ensureSchema(db);
    db.exec('CREATE TABLE IF NOT EXISTS probe (one INTEGER PRIMARY KEY CHECK (one = 1))');
    // Proves that the file can be written now, not at the first message.
    db.prepare('INSERT OR REPLACE INTO probe (one) VALUES (1)').run();
    return prepare(db, path, bounds, events);
  });
}

/**
 * Opens a store's file at `path` (creating it if need be) as every store file is opened,
 * then `setUp` (its schema, its statements); closes it again if that throws. Throws what
 * SQLite throws.
 *
 * WAL with `synchronous=NORMAL` (a commit survives the process's death, not a power cut);
 * another worker's lock waited for; and, per connection, what a delete or an edit removes
 * overwritten with zeros, in the log and the file, not left in free space.
 */
export function openWalFile<T>(path: string, setUp: (db: Db) => T): T {
  const db = new Database(path, { fileMustExist: false, timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('secure_delete = ON');
    return setUp(db);
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The identity of the file at `path` and of its `-wal` and `-shm` as opened: a removed or
 * replaced file is noticed before it is written to, and its companions are not applied to
 * another one put in its place (dropMovedFile).
 */
export function identityOf(path: string): { file: Stats; companions: (Stats | null)[] } {
  return { file: statSync(path), companions: COMPANIONS.map((suffix) => statOrNull(path + suffix)) };
}

/**
 * Closes `db`, whose file at `path` was removed or replaced, and removes the `-wal` and
 * `-shm` left beside it if they are still the very files it opened (`companions`): they
 * hold the old file's last commits, which SQLite would replay onto the file now there.
 * A backup restored with its own -wal is left alone. Answers the paths removed.
 */
export function dropMovedFile(db: Db, path: string, companions: readonly (Stats | null)[]): string[] {
  try {
    db.close();
  } catch {
    // Closing a database whose file is gone may fail; it is dropped either way.
  }
  const removed: string[] = [];
  COMPANIONS.forEach((suffix, i) => {
    const companion = path + suffix;
    if (!sameFile(statOrNull(companion), companions[i] ?? null)) return;
    try {
      unlinkSync(companion);
      removed.push(companion);
    } catch {
      // Gone already (another worker of the same DATA_DIR removed it).
    }
  });
  return removed;
}

function prepare(db: Db, path: string, bounds: StoreBounds, events: OutboxOptions | null): OpenDatabase {
  const outbox = events === null ? null : prepareOutbox(db);
  const writer: OutboxWriter | null = outbox?.writer ?? null;
  const c: Statements = {
    insert: db.prepare('INSERT OR IGNORE INTO messages (room, ms, seq, name, text, at, user) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    // A commit's messages of one room: added to its counts, its newest message noted
    // (unless another worker's newer one is there already). Not last_s: see touchRoom.
    addToRoom: db.prepare(
      `INSERT INTO rooms (name, count, bytes, last_ms, last_seq, last_at, last_s) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         count = count + excluded.count,
         bytes = bytes + excluded.bytes,
         last_at = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_at, last_at),
         last_seq = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_seq, last_seq),
         last_ms = iif((excluded.last_ms, excluded.last_seq) > (last_ms, last_seq), excluded.last_ms, last_ms)`,
    ),
    roomCounts: db.prepare(ROOM_COUNTS),
    // Setting an indexed column writes the index even to the same value: only a new second does.
    touchRoom: db.prepare('UPDATE rooms SET last_s = ? WHERE name = ? AND last_s < ?'),
    takeFromRoom: db.prepare('UPDATE rooms SET count = count - ?, bytes = bytes - ?, reactions = reactions - ? WHERE name = ?'),
    // The reactions of what trimOldest deletes, run before it (and only in a room that has any).
    trimReactions: db.prepare(
      `DELETE FROM reactions WHERE room = ? AND (ms, seq) <= (
         SELECT ms, seq FROM messages WHERE room = ? ORDER BY ms, seq LIMIT 1 OFFSET ?)`,
    ),
    // A room's oldest messages, up to the one at the given offset from its oldest: what
    // they count (bytesUpTo), then their deletion (trimOldest). Each a walk of those rows only.
    bytesUpTo: db
      .prepare(
        `SELECT coalesce(sum(${ROW_BYTES}), 0) FROM messages WHERE room = ? AND (ms, seq) <= (
           SELECT ms, seq FROM messages WHERE room = ? ORDER BY ms, seq LIMIT 1 OFFSET ?)`,
      )
      .pluck() as Statement<[string, string, number], number>,
    trimOldest: db.prepare(
      `DELETE FROM messages WHERE room = ? AND (ms, seq) <= (
         SELECT ms, seq FROM messages WHERE room = ? ORDER BY ms, seq LIMIT 1 OFFSET ?)`,
    ),
    oldest: db.prepare(`SELECT ms, seq, ${ROW_BYTES} AS bytes FROM messages WHERE room = ? ORDER BY ms, seq LIMIT ?`),
    dropUpTo: db.prepare('DELETE FROM messages WHERE room = ? AND (ms, seq) <= (?, ?)'),
    dropReactionsUpTo: db.prepare('DELETE FROM reactions WHERE room = ? AND (ms, seq) <= (?, ?)'),
    // The rooms by their newest message, the one idle longest first: the index gives the
    // seconds in order, each second's few rooms are sorted as they come.
    idlest: db.prepare(`SELECT name, bytes, reactions FROM rooms WHERE name <> '${TOTALS}' ORDER BY last_s, last_ms, last_seq`),
    dropMessages: db.prepare('DELETE FROM messages WHERE room = ?'),
    dropRoomReactions: db.prepare('DELETE FROM reactions WHERE room = ?'),
    dropReads: db.prepare('DELETE FROM reads WHERE room = ?'),
    dropRoom: db.prepare('DELETE FROM rooms WHERE name = ?'),
    // Every SET reads the row as it was before this update.
    changeTotals: db.prepare(
      `UPDATE rooms SET
         count = count + @rooms,
         bytes = bytes + @bytes,
         last_ms = iif((@ms, @seq) > (last_ms, last_seq), @ms, last_ms),
         last_seq = iif((@ms, @seq) > (last_ms, last_seq), @seq, last_seq)
       WHERE name = '${TOTALS}'`,
    ),
    totals: db.prepare(TOTALS_ROW),
    make: prepareChanges(db),
  };
  // Per commit: each message's row and each change, in order; per room written, one
  // update of its counts and the trim of what is past HISTORY_KEEP; one update of the
  // totals; and, only past a bound, the rooms idle longest dropped.
  const commitBatch = db.transaction((batch: readonly Pending[]) => {
    const written = new Map<string, { count: number; bytes: number; last: PendingMessage }>();
    const change: TotalsChange = { rooms: 0, bytes: 0, ms: 0, seq: 0 };
    /** Rooms whose counts a change altered, with their counts after it. */
    let changed: Map<string, RoomCounts> | null = null;
    let newest: PendingMessage | null = null;
    for (const p of batch) {
      if ('change' in p) {
        const made = c.make(p.room, p.change);
        p.outcome = made.outcome;
        change.bytes += made.bytes;
        if (made.counts !== null) (changed ??= new Map()).set(p.room, made.counts);
        if (writer !== null) recordChange(writer, p.room, made);
        continue;
      }
      if (!('message' in p)) {
        if (writer === null) continue;
        if ('event' in p) writer.add(p.event);
        else writer.member(p.room, p.member, p.delta, (events as OutboxOptions).node, p.at);
        continue;
      }
      c.insert.run(p.room, p.ms, p.seq, p.message.name, p.message.text, p.message.at, p.message.user ?? null);
      writer?.add(createdEvent(p.room, p.message));
      newest = p;
      const room = written.get(p.room);
      if (room === undefined) written.set(p.room, { count: 1, bytes: p.bytes, last: p });
      else {
        room.count += 1;
        room.bytes += p.bytes;
        room.last = p;
      }
    }
    const keep = bounds.keep;
    const held = new Map<string, RoomCounts>(changed ?? []);
    for (const [room, added] of written) {
      const { last } = added;
      const second = Math.floor(last.ms / 1000);
      c.addToRoom.run(room, added.count, added.bytes, last.ms, last.seq, last.message.at, second);
      let counts = c.roomCounts.get(room) as RoomCounts;
      if (counts.count === added.count) change.rooms += 1;
      c.touchRoom.run(second, room, second);
      change.bytes += added.bytes;
      if (counts.count > keep) {
        const excess = counts.count - keep;
        const reactions = counts.reactions > 0 ? c.trimReactions.run(room, room, excess - 1).changes : 0;
        const freed = c.bytesUpTo.get(room, room, excess - 1) as number;
        c.trimOldest.run(room, room, excess - 1);
        c.takeFromRoom.run(excess, freed, reactions, room);
        counts = { count: keep, bytes: counts.bytes - freed, reactions: counts.reactions - reactions };
        change.bytes -= freed;
      }
      held.set(room, counts);
    }
    // Reactions and read markers alone change no totals.
    if (newest === null && change.bytes === 0) return;
    // Ids only increase within a batch: its last message is its newest.
    if (newest !== null) {
      change.ms = newest.ms;
      change.seq = newest.seq;
    }
    c.changeTotals.run(change);
    const totals = c.totals.get() as Totals;
    if (overBounds(bounds, totals.rooms, totals.bytes)) makeRoom(c, bounds, totals, held);
  });
  return {
    db,
    ...identityOf(path),
    totals: c.totals,
    reads: prepareReads(db),
    outbox: outbox?.reader ?? null,
    commitBatch,
  };
}

/** The event of an edit or a delete the commit made. */
function recordChange(writer: OutboxWriter, room: string, made: Made): void {
  const { outcome } = made;
  if (typeof outcome === 'string') return;
  if (outcome.kind === 'edit' && made.message !== undefined) writer.add(editedEvent(room, made.message, outcome.text, outcome.version, outcome.editedAt));
  else if (outcome.kind === 'delete') writer.add(deletedEvent(room, outcome.id, Date.now()));
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
  const idle: { name: string; bytes: number; reactions: number }[] = [];
  for (const room of c.idlest.iterate()) {
    if (!overBounds(bounds, rooms, bytes)) break;
    if (written.has(room.name)) continue;
    idle.push(room);
    rooms -= 1;
    bytes -= room.bytes;
  }
  for (const { name, reactions } of idle) {
    c.dropMessages.run(name);
    if (reactions > 0) c.dropRoomReactions.run(name);
    c.dropReads.run(name);
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
    const reactions = counts.reactions > 0 ? c.dropReactionsUpTo.run(room, upTo.ms, upTo.seq).changes : 0;
    c.takeFromRoom.run(count, bytes, reactions, room);
    freed += bytes;
  }
  return freed;
}

