/**
 * The SQLite store's schema: the tables, how a message counts against MAX_STORED_BYTES,
 * and the upgrade of a database an older version wrote (`PRAGMA user_version`).
 */
import type { Database as Db } from 'better-sqlite3';

/**
 * What a stored message counts against MAX_STORED_BYTES besides the UTF-8 bytes of its
 * room, name and text: its ids and time, and SQLite's own bytes for a row.
 */
export const MESSAGE_OVERHEAD_BYTES = 32;
/** Another process (a worker of WORKERS > 1) holding the write lock: wait this long before failing. */
export const BUSY_TIMEOUT_MS = 5_000;
/** While another worker upgrades the schema (once, reading every row), wait this long for it. */
const UPGRADE_WAIT_MS = 10 * 60_000;

/** A message's count against MAX_STORED_BYTES (ROW_BYTES computes the same from a row). */
export function messageBytes(room: string, name: string, text: string): number {
  return MESSAGE_OVERHEAD_BYTES + Buffer.byteLength(room, 'utf8') + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(text, 'utf8');
}
export const ROW_BYTES = `(${MESSAGE_OVERHEAD_BYTES} + length(CAST(room AS BLOB)) + length(CAST(name AS BLOB)) + length(CAST(text AS BLOB)))`;

/**
 * The schema's version (`PRAGMA user_version`): 1 added the rooms' counts and the totals
 * (TOTALS); 2 the messages' sender, edits and deletion, their reactions, and read markers;
 * 3 the webhook outbox.
 */
export const SCHEMA_VERSION = 3;

/**
 * The totals live in `rooms`, as the row of this name (no room has it): `count` is the
 * number of rooms, `bytes` all their bytes, `last_ms`-`last_seq` the newest id ever
 * stored. With a few rooms, a commit then writes its room's row and the totals on one
 * page. Its `last_s` puts it after every room in the order rooms go in.
 */
export const TOTALS = '';
const TOTALS_LAST_S = Number.MAX_SAFE_INTEGER;

const INDEX = `CREATE INDEX rooms_by_second ON rooms (last_s);`;

/**
 * What schema 2 adds, the same for a new file and an upgraded one (new columns go last).
 * `messages.user`: the sender's `sub` (JWT), else NULL; `version` 0 until edited; a
 * deleted message keeps its row (id and time) with `deleted` 1 and its name and text
 * emptied. `rooms.reactions` counts the room's rows in `reactions`, so that trimming a
 * room without any does no work for them. `reads`: each user's marker per room; by room
 * too, so that a room dropped takes its markers along.
 */
const SCHEMA_2 = `
ALTER TABLE messages ADD COLUMN user      TEXT;
ALTER TABLE messages ADD COLUMN version   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN reactions INTEGER NOT NULL DEFAULT 0;
CREATE TABLE reactions (
  room  TEXT NOT NULL,
  ms    INTEGER NOT NULL,
  seq   INTEGER NOT NULL,
  emoji TEXT NOT NULL,
  user  TEXT NOT NULL,
  PRIMARY KEY (room, ms, seq, emoji, user)
) WITHOUT ROWID;
CREATE TABLE reads (
  user TEXT NOT NULL,
  room TEXT NOT NULL,
  ms   INTEGER NOT NULL,
  seq  INTEGER NOT NULL,
  PRIMARY KEY (user, room)
) WITHOUT ROWID;
CREATE INDEX reads_by_room ON reads (room);
`;

/**
 * What schema 3 adds: the webhook outbox. `outbox`: the events not yet delivered, in the
 * order they were committed (AUTOINCREMENT: a number is never used twice, so an event's
 * id stays its own). `members`: each member's connections per room and node (a worker
 * of WORKERS > 1), which make member events across nodes. `outbox_lease`: which node
 * delivers, until when. `outbox_meta`: the `epoch` that starts this file's event ids.
 */
const SCHEMA_3 = `
CREATE TABLE outbox (
  seq  INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  room TEXT,
  at   INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE members (
  room  TEXT NOT NULL,
  key   TEXT NOT NULL,
  node  TEXT NOT NULL,
  name  TEXT NOT NULL,
  user  TEXT,
  conns INTEGER NOT NULL,
  PRIMARY KEY (room, key, node)
) WITHOUT ROWID;
CREATE INDEX members_by_node ON members (node);
CREATE TABLE outbox_lease (
  one   INTEGER PRIMARY KEY CHECK (one = 1),
  owner TEXT NOT NULL,
  until INTEGER NOT NULL
);
CREATE TABLE outbox_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO outbox_meta (name, value) VALUES ('epoch', lower(hex(randomblob(4))));
`;

/**
 * Schema 1, which a new database starts from. `rooms`: each room's counts and newest
 * message, one row per room with messages. `last_s`, the second of that message, is
 * what is indexed for the order rooms go in: it changes at most once a second, so a busy
 * room's commits do not write the index.
 */
const CREATE_SCHEMA_1 = `
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
 * Brings the schema to SCHEMA_VERSION: creates it in a new file, upgrades an older one a
 * version at a time (adding columns and tables only, so every message stays). One worker
 * does it (the write lock); the others wait for it, then find it done.
 */
export function ensureSchema(db: Db): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  if (found === SCHEMA_VERSION) return;
  if (found > SCHEMA_VERSION) throw new Error(`written by a newer version of this server (schema ${found}; this one knows ${SCHEMA_VERSION})`);
  db.pragma(`busy_timeout = ${UPGRADE_WAIT_MS}`);
  try {
    db.transaction(() => {
      const now = version();
      if (now >= SCHEMA_VERSION) return;
      const old = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'messages'").get() !== undefined;
      if (!old) db.exec(CREATE_SCHEMA_1);
      else if (now < 1) db.exec(UPGRADE_TO_1);
      if (now < 2) db.exec(SCHEMA_2);
      db.exec(SCHEMA_3);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
}
