/**
 * The embedded default: every room's messages in one SQLite file under DATA_DIR, through
 * better-sqlite3 (synchronous, so reads answer in the same turn and no promise is made
 * per message).
 *
 * Durability: WAL mode with `synchronous=NORMAL`. A commit is in the operating system's
 * hands when it returns, so it survives `kill -9` of this process (it is not fsynced: a
 * power cut may lose the last commits). Every message appended during one turn of the
 * event loop goes into one transaction, committed at the end of the turn (atTurnEnd,
 * before the broadcast flushes it leads to); only then are the senders told and the
 * messages broadcast.
 *
 * Bounds: the same transaction keeps each room's count and bytes (table `rooms`) and the
 * store's totals and newest id (the row TOTALS of that table), so that every commit
 * leaves at most HISTORY_KEEP messages per room and at most MAX_STORED_ROOMS rooms and
 * MAX_STORED_BYTES in all, and a start reads one row instead of one per room.
 */
import Database, { type Database as Db, type Statement } from 'better-sqlite3';
import { accessSync, constants, mkdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ChatMessage } from '../protocol';
import { jsonBytes } from '../support/json-bytes';
import { atTurnEnd } from '../support/turn-end';
import { idParts, MessageIdGenerator } from './message-id';
import {
  StoreUnavailableError,
  type AppendCallback,
  type MessageStore,
  type ReadQuery,
  type RoomQuery,
  type StoredPage,
  type StoredRoom,
} from './message-store';

export const DATABASE_FILE = 'chat.sqlite';

/**
 * What a stored message counts against MAX_STORED_BYTES besides the UTF-8 bytes of its
 * room, name and text: its ids and time, and SQLite's own bytes for a row.
 */
const MESSAGE_OVERHEAD_BYTES = 32;
/** How often a failed store tries to open its file again, and a working one checks that its file is still there. */
const CHECK_INTERVAL_MS = 500;
/** Another process (a worker of WORKERS > 1) holding the write lock: wait this long before failing. */
const BUSY_TIMEOUT_MS = 5_000;
/** While another worker upgrades the schema (once, reading every row), wait this long for it. */
const UPGRADE_WAIT_MS = 10 * 60_000;

/** DATA_DIR cannot be used at start: the message names the path and the reason. */
export class DataDirError extends Error {
  constructor(dir: string, reason: string) {
    super(`DATA_DIR ${JSON.stringify(dir)} cannot be used: ${reason}`);
    this.name = 'DataDirError';
  }
}

export interface SqliteStoreOptions {
  /** DATA_DIR as configured (relative to the working directory). */
  dir: string;
  /** HISTORY_KEEP: messages kept per room. */
  keep: number;
  /** MAX_STORED_ROOMS: rooms kept; 0 for no bound. */
  maxRooms?: number;
  /** MAX_STORED_BYTES: what all messages may count together (messageBytes); 0 for no bound. */
  maxBytes?: number;
  logger: Logger;
  /** Worker `offset` of `stride` (WORKERS > 1 sharing one file): ids stay unique. */
  idOffset?: number;
  idStride?: number;
  now?: () => number;
}

interface Row {
  ms: number;
  seq: number;
  name: string;
  text: string;
  at: number;
}

interface Pending {
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
interface Totals {
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

/** A message's count against MAX_STORED_BYTES (ROW_BYTES computes the same from a row). */
function messageBytes(room: string, name: string, text: string): number {
  return MESSAGE_OVERHEAD_BYTES + Buffer.byteLength(room, 'utf8') + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(text, 'utf8');
}
const ROW_BYTES = `(${MESSAGE_OVERHEAD_BYTES} + length(CAST(room AS BLOB)) + length(CAST(name AS BLOB)) + length(CAST(text AS BLOB)))`;

/** The prepared statements of one open database. */
interface Connection {
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

/** A connection's statements, which its own transaction uses. */
type Statements = Omit<Connection, 'commitBatch'>;

/** The schema's version (`PRAGMA user_version`): 1 added the rooms' counts and the totals (TOTALS). */
const SCHEMA_VERSION = 1;

/**
 * The totals live in `rooms`, as the row of this name (no room has it): `count` is the
 * number of rooms, `bytes` all their bytes, `last_ms`-`last_seq` the newest id ever
 * stored. With a few rooms, a commit then writes its room's row and the totals on one
 * page. Its `last_s` puts it after every room in the order rooms go in.
 */
const TOTALS = '';
const TOTALS_LAST_S = Number.MAX_SAFE_INTEGER;

const INDEX = `CREATE INDEX rooms_by_second ON rooms (last_s);`;

/**
 * A new database. `rooms`: each room's counts and newest message, one row per room with
 * messages. `last_s`, the second of that message, is what is indexed for the order rooms
 * go in: it changes at most once a second, so a busy room's commits do not write the index.
 */
const CREATE_SCHEMA = `
CREATE TABLE messages (
  room TEXT NOT NULL,
  ms   INTEGER NOT NULL,
  seq  INTEGER NOT NULL,
  name TEXT NOT NULL,
  text TEXT NOT NULL,
  at   INTEGER NOT NULL,
  PRIMARY KEY (room, ms, seq)
) WITHOUT ROWID;
CREATE TABLE rooms (
  name     TEXT PRIMARY KEY,
  count    INTEGER NOT NULL DEFAULT 0,
  bytes    INTEGER NOT NULL DEFAULT 0,
  last_ms  INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_at  INTEGER NOT NULL DEFAULT 0,
  last_s   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
${INDEX}
INSERT INTO rooms (name, last_s) VALUES ('${TOTALS}', ${TOTALS_LAST_S});
`;

/** A database of schema 0 (messages, and rooms by name only) gets its counts, once: this reads every row. */
const UPGRADE_TO_1 = `
CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY) WITHOUT ROWID;
ALTER TABLE rooms ADD COLUMN count    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN bytes    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_ms  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_at  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN last_s   INTEGER NOT NULL DEFAULT 0;
INSERT OR IGNORE INTO rooms (name) SELECT DISTINCT room FROM messages;
UPDATE rooms SET count = c.count, bytes = c.bytes
  FROM (SELECT room, count(*) AS count, sum(${ROW_BYTES}) AS bytes FROM messages GROUP BY room) AS c
  WHERE c.room = rooms.name;
DELETE FROM rooms WHERE count = 0;
UPDATE rooms SET (last_ms, last_seq, last_at) =
  (SELECT ms, seq, at FROM messages WHERE room = rooms.name ORDER BY ms DESC, seq DESC LIMIT 1);
UPDATE rooms SET last_s = last_ms / 1000;
${INDEX}
INSERT INTO rooms (name, count, bytes, last_ms, last_seq, last_at, last_s)
  SELECT '${TOTALS}', (SELECT count(*) FROM rooms), (SELECT coalesce(sum(bytes), 0) FROM rooms),
    coalesce((SELECT last_ms FROM rooms ORDER BY last_ms DESC, last_seq DESC LIMIT 1), 0),
    coalesce((SELECT last_seq FROM rooms ORDER BY last_ms DESC, last_seq DESC LIMIT 1), 0),
    0, ${TOTALS_LAST_S};
`;

/**
 * Brings the schema to SCHEMA_VERSION: creates it in a new file, upgrades an older one.
 * One worker does it (the write lock); the others wait for it, then find it done.
 */
function ensureSchema(db: Db): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  if (found === SCHEMA_VERSION) return;
  if (found > SCHEMA_VERSION) throw new Error(`written by a newer version of this server (schema ${found}; this one knows ${SCHEMA_VERSION})`);
  db.pragma(`busy_timeout = ${UPGRADE_WAIT_MS}`);
  try {
    db.transaction(() => {
      if (version() >= SCHEMA_VERSION) return;
      const old = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'messages'").get() !== undefined;
      db.exec(old ? UPGRADE_TO_1 : CREATE_SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}

/** The files SQLite keeps next to a database in WAL mode. */
const COMPANIONS = ['-wal', '-shm'] as const;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const sameFile = (a: Stats | null, b: Stats | null) => a !== null && b !== null && a.dev === b.dev && a.ino === b.ino;

const idOf = (row: { ms: number; seq: number }) => `${row.ms}-${row.seq}`;
const messageOf = (row: Row): ChatMessage => ({ id: idOf(row), text: row.text, name: row.name, at: row.at });

/**
 * Up to `limit` messages from `rows`, read one at a time and no further than the first
 * that would pass `maxBytes` as JSON (at least one is taken), and whether any was left.
 */
function takePage(rows: IterableIterator<Row>, limit: number, maxBytes: number): { messages: ChatMessage[]; more: boolean } {
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

/** What went wrong, in words an operator can act on. */
function reasonOf(err: unknown): string {
  const error = err as { code?: string; message?: string };
  const code = error.code ?? '';
  if (code === 'SQLITE_FULL' || /ENOSPC|disk is full/i.test(error.message ?? '')) return 'disk full';
  if (code.startsWith('SQLITE_READONLY') || /EROFS|readonly|read-only/i.test(error.message ?? '')) return 'read-only';
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return `corrupt database (${error.message ?? code})`;
  // "disk I/O error" alone does not say which: SQLite's extended code does (SQLITE_IOERR_WRITE...).
  if (code.startsWith('SQLITE_IOERR')) return `${error.message ?? 'disk I/O error'} (${code})`;
  return error.message ?? String(err);
}

/**
 * Why the database under `dir` could not be opened. SQLite says only "unable to open
 * database file" (SQLITE_CANTOPEN) when the directory is read-only or not writable (it
 * cannot create the file, its -wal or its -shm); the directory itself tells which.
 */
function openFailureOf(dir: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code.startsWith('SQLITE_CANTOPEN')) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (dirErr) {
      const dirCode = (dirErr as NodeJS.ErrnoException).code;
      if (dirCode === 'EROFS') return 'read-only file system';
      if (dirCode === 'EACCES' || dirCode === 'EPERM') return 'permission denied (the directory is not writable)';
      if (dirCode === 'ENOENT') return 'directory removed';
    }
  }
  return reasonOf(err);
}

export class SqliteStore implements MessageStore {
  readonly path: string;
  private connection: Connection | null;
  private readonly ids: MessageIdGenerator;
  private batch: Pending[] = [];
  private flushScheduled = false;
  private broken: string | null = null;
  private readonly checker: NodeJS.Timeout;
  private readonly flushNow = () => this.flush();

  /**
   * Opens (creating it if need be) the database under `options.dir`. Throws DataDirError
   * when that cannot be done: the directory cannot be made, the file is not a database,
   * or nothing can be written there.
   */
  constructor(private readonly options: SqliteStoreOptions) {
    this.path = join(resolve(options.dir), DATABASE_FILE);
    try {
      mkdirSync(options.dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // EEXIST: the path is a file; ENOTDIR: one of its parents is.
      const reason = code === 'EEXIST' || code === 'ENOTDIR' ? `not a directory (${(err as Error).message})` : (err as Error).message;
      throw new DataDirError(options.dir, reason);
    }
    try {
      this.connection = this.connect();
    } catch (err) {
      throw new DataDirError(options.dir, openFailureOf(options.dir, err));
    }
    this.ids = new MessageIdGenerator(options.now ?? Date.now, options.idOffset ?? 0, options.idStride ?? 1);
    this.continueIds(this.connection);
    this.checker = setInterval(() => this.check(), CHECK_INTERVAL_MS);
    this.checker.unref();
  }

  append(room: string, name: string, text: string, done: AppendCallback): void {
    const { id, at, ms, seq } = this.ids.next();
    this.batch.push({ room, ms, seq, bytes: messageBytes(room, name, text), message: { id, text, name, at }, done });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      atTurnEnd(this.flushNow);
    }
  }

  recent(room: string, limit: number): ChatMessage[] {
    if (limit === 0) return [];
    return this.reading((c) => c.newest.all(room, limit).reverse().map(messageOf));
  }

  read(room: string, query: ReadQuery): StoredPage {
    const keep = this.options.keep;
    const { limit, maxBytes = Number.POSITIVE_INFINITY } = query;
    return this.reading((c) => {
      if (query.since === undefined) {
        const { messages, more } = takePage(c.newest.iterate(room, limit + 1), limit, maxBytes);
        return { messages: messages.reverse(), complete: true, more };
      }
      const [ms, seq] = idParts(query.since) ?? [0, 0];
      const { messages, more } = takePage(c.after.iterate(room, ms, ms, seq, limit + 1), limit, maxBytes);
      // A room not written since HISTORY_KEEP was lowered still holds more; to a reader
      // those are gone already.
      const kept = c.exists.get(room, ms, seq) !== undefined && (c.newerThan.get(room, ms, seq, keep)?.count ?? 0) < keep;
      return { messages, complete: kept, more };
    });
  }

  rooms(query: RoomQuery): StoredRoom[] {
    return this.reading((c) => c.rooms.all(query.after ?? TOTALS, query.limit).map(({ name, lastAt }) => ({ name, lastMessageAt: lastAt })));
  }

  problem(): string | null {
    return this.broken;
  }

  /** Commits what is pending, then closes the file. */
  close(): void {
    clearInterval(this.checker);
    this.flush();
    this.connection?.db.close();
    this.connection = null;
  }

  private connect(): Connection {
    const db = new Database(this.path, { fileMustExist: false, timeout: BUSY_TIMEOUT_MS });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      ensureSchema(db);
      db.exec('CREATE TABLE IF NOT EXISTS probe (one INTEGER PRIMARY KEY CHECK (one = 1))');
      // Proves that the file can be written now, not at the first message.
      db.prepare('INSERT OR REPLACE INTO probe (one) VALUES (1)').run();
      const statements = this.prepare(db);
      return statements;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private prepare(db: Db): Connection {
    const c: Statements = {
      db,
      file: statSync(this.path),
      companions: COMPANIONS.map((suffix) => statOrNull(this.path + suffix)),
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
      const keep = this.options.keep;
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
      if (this.overBounds(totals.rooms, totals.bytes)) this.makeRoom(c, totals, held);
    });
    return { ...c, commitBatch };
  }

  /** Whether `rooms` rooms holding `bytes` are past MAX_STORED_ROOMS or MAX_STORED_BYTES. */
  private overBounds(rooms: number, bytes: number): boolean {
    const { maxRooms = 0, maxBytes = 0 } = this.options;
    return (maxRooms > 0 && rooms > maxRooms) || (maxBytes > 0 && bytes > maxBytes);
  }

  /**
   * Past a bound, in the commit's transaction: the rooms idle longest go, whole, except
   * the ones this commit wrote (`written`, with what each holds now). If those alone are
   * still over MAX_STORED_BYTES, their oldest messages go, the largest room's first; each
   * keeps at least its newest message.
   */
  private makeRoom(c: Statements, totals: Totals, written: ReadonlyMap<string, RoomCounts>): void {
    let { rooms, bytes } = totals;
    const idle: { name: string; bytes: number }[] = [];
    for (const room of c.idlest.iterate()) {
      if (!this.overBounds(rooms, bytes)) break;
      if (written.has(room.name)) continue;
      idle.push(room);
      rooms -= 1;
      bytes -= room.bytes;
    }
    for (const { name } of idle) {
      c.dropMessages.run(name);
      c.dropRoom.run(name);
    }
    const maxBytes = this.options.maxBytes ?? 0;
    if (maxBytes > 0 && bytes > maxBytes) bytes -= this.trimWritten(c, written, bytes - maxBytes);
    c.changeTotals.run({ rooms: rooms - totals.rooms, bytes: bytes - totals.bytes, ms: 0, seq: 0 });
  }

  /** Deletes the oldest messages of the rooms in `written` until `excess` bytes are freed; answers the bytes freed. */
  private trimWritten(c: Statements, written: ReadonlyMap<string, RoomCounts>, excess: number): number {
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

  /** From now on ids are greater than the newest this file ever stored: one row read, whatever the number of rooms. */
  private continueIds(connection: Connection): void {
    const totals = connection.totals.get();
    if (totals !== undefined) this.ids.continueAfter(idOf({ ms: totals.newestMs, seq: totals.newestSeq }));
  }

  /** The check phase after a turn: one transaction for the turn's messages, then every sender hears. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const failure = this.write(batch);
    for (const pending of batch) {
      // Each sender hears, whatever another's callback does: a room waits for its answer.
      try {
        if (failure === null) pending.done(null, pending.message);
        else pending.done(failure, null);
      } catch (err) {
        this.options.logger.error({ err, room: pending.room }, 'a stored message could not be published');
      }
    }
  }

  private write(batch: readonly Pending[]): StoreUnavailableError | null {
    if (this.broken !== null || this.connection === null) return new StoreUnavailableError(this.broken ?? 'closed');
    // A file removed or replaced under us would take the commit and lose it with the file.
    const moved = this.fileMoved(this.connection);
    if (moved !== null) return this.fail(moved);
    try {
      this.connection.commitBatch(batch);
      return null;
    } catch (err) {
      return this.fail(reasonOf(err));
    }
  }

  private fail(reason: string): StoreUnavailableError {
    if (this.broken === null) this.options.logger.error({ path: this.path, reason }, 'message store unavailable; refusing messages');
    this.broken = reason;
    return new StoreUnavailableError(reason);
  }

  private fileMoved(connection: Connection): string | null {
    const now = statOrNull(this.path);
    if (now === null) return 'database file removed';
    return sameFile(now, connection.file) ? null : 'database file replaced';
  }

  /**
   * Twice a second: a working store checks that its file is still the one it opened (so
   * /readyz tells even when nobody writes); a failed one opens its file again (the
   * directory must exist: a volume that is not mounted must not get a new database
   * written under its mount point) and takes messages again once it can write there.
   *
   * Until then the old connection stays open for reading: a full or read-only disk (or a
   * DATA_DIR removed with the file still open) can still serve the history it holds, to a
   * newcomer or a client resuming with ?since=. It is replaced only by a connection that
   * can write, except when another file now lies at its path (see dropMoved).
   */
  private check(): void {
    if (this.broken === null) {
      const moved = this.connection === null ? null : this.fileMoved(this.connection);
      if (moved !== null) this.fail(moved);
      return;
    }
    this.options.logger.debug({ path: this.path, reason: this.broken }, 'message store retrying');
    try {
      statSync(this.options.dir);
    } catch {
      return;
    }
    if (this.connection !== null && this.fileMoved(this.connection) !== null) this.dropMoved(this.connection);
    let fresh: Connection;
    try {
      fresh = this.connect();
    } catch (err) {
      const reason = openFailureOf(this.options.dir, err);
      if (reason !== this.broken) this.options.logger.warn({ path: this.path, reason, was: this.broken }, 'message store still unavailable');
      this.broken = reason;
      return;
    }
    try {
      this.connection?.db.close();
    } catch {
      // Closing a database whose file is gone or broken may fail; it is dropped either way.
    }
    this.connection = fresh;
    // A new file may hold older ids than the generator's (it only goes up), or newer ones.
    this.continueIds(fresh);
    this.options.logger.warn({ path: this.path, was: this.broken }, 'message store available again');
    this.broken = null;
  }

  /**
   * The file under the open connection was removed or replaced. SQLite will not write to
   * a moved file (SQLITE_READONLY_DBMOVED), so closing does not checkpoint: the old file's
   * `-wal` (its last commits) and `-shm` stay at the path, and the next connection would
   * replay that log onto whatever file is there now, making it a copy of pages of the old
   * one, or corrupt. They are removed, but only if they are still the very files this
   * connection opened (a backup restored with its own -wal is left alone).
   */
  private dropMoved(connection: Connection): void {
    try {
      connection.db.close();
    } catch {
      // Closing a database whose file is gone may fail; it is dropped either way.
    }
    this.connection = null;
    const removed: string[] = [];
    COMPANIONS.forEach((suffix, i) => {
      const path = this.path + suffix;
      if (!sameFile(statOrNull(path), connection.companions[i] ?? null)) return;
      try {
        unlinkSync(path);
        removed.push(path);
      } catch {
        // Gone already (another worker of the same DATA_DIR removed it).
      }
    });
    this.options.logger.warn({ path: this.path, removed }, 'closed a removed or replaced database file; removed what it left beside it');
  }

  private reading<T>(read: (connection: Connection) => T): T {
    if (this.connection === null) throw new StoreUnavailableError(this.broken ?? 'closed');
    try {
      return read(this.connection);
    } catch (err) {
      throw new StoreUnavailableError(reasonOf(err));
    }
  }
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
