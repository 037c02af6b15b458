/**
 * Changes to stored messages (edit, delete, reactions) and read markers, made inside the
 * commit of the turn they were asked in (database.ts), in order with its new messages:
 * a change finds a message appended before it in the same turn. The rules are the memory
 * store's: an unknown or deleted message is not_found, edit and delete ask refusalFor,
 * a reaction toggles and a new emoji past MAX_REACTIONS is refused, a marker only moves
 * forward.
 */
import type { Database as Db } from 'better-sqlite3';
import { MAX_REACTIONS, type HistoryMessage } from '../../protocol';
import { refusalFor } from '../changes';
import { idParts } from '../message-id';
import type { ChangeRefusal, ChangeResult, MessageChange } from '../message-store';
import type { EditedMessage } from '../webhook-events';

/** What a room holds: its row of `rooms`. */
export interface RoomCounts {
  count: number;
  bytes: number;
  /** Its rows in `reactions`. */
  reactions: number;
}

/** A room's RoomCounts, read. */
export const ROOM_COUNTS = 'SELECT count, bytes, reactions FROM rooms WHERE name = ?';

/** What a change made: its outcome, what it changed the room's bytes by, and (if it changed them) the room's counts now. */
export interface Made {
  outcome: ChangeResult | ChangeRefusal;
  bytes: number;
  counts: RoomCounts | null;
  /** The message an edit changed, for its webhook event. */
  message?: EditedMessage;
}

/** What a change needs to know of its message; text and name by their size only. */
interface Found {
  at: number;
  name: string;
  user: string | null;
  version: number;
  deleted: number;
  nameBytes: number;
  textBytes: number;
}

type Key = [room: string, ms: number, seq: number];

const refused = (outcome: ChangeRefusal): Made => ({ outcome, bytes: 0, counts: null });

/** The message refusalFor judges: who sent it is all it looks at besides whether it exists. */
function asMessage(id: string, found: Found): HistoryMessage {
  if (found.deleted !== 0) return { id, at: found.at, deleted: true };
  return found.user === null ? { id, text: '', name: '', at: found.at } : { id, text: '', name: '', at: found.at, user: found.user };
}

/** Prepares the statements of changes on `db`; answers the function that makes one (inside a transaction). */
export function prepareChanges(db: Db): (room: string, change: MessageChange) => Made {
  const key = 'room = ? AND ms = ? AND seq = ?';
  const find = db.prepare<Key, Found>(
    `SELECT at, name, user, version, deleted, length(CAST(name AS BLOB)) AS nameBytes, length(CAST(text AS BLOB)) AS textBytes
     FROM messages WHERE ${key}`,
  );
  const edit = db.prepare<[string, number, ...Key]>(`UPDATE messages SET text = ?, version = version + 1, edited_at = ? WHERE ${key}`);
  // The row stays, as the tombstone; with secure_delete on, what it held is overwritten.
  const erase = db.prepare<Key>(`UPDATE messages SET text = '', name = '', user = NULL, deleted = 1 WHERE ${key}`);
  const dropReactions = db.prepare<Key>(`DELETE FROM reactions WHERE ${key}`);
  // An upsert: the room's row is written at the end of the commit for a room whose first
  // messages are in it (database.ts), and must then start from these.
  // No RETURNING here either (see database.ts): the write, then the row read.
  const upsertRoom = db.prepare<[string, number, number]>(
    `INSERT INTO rooms (name, bytes, reactions) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET bytes = bytes + excluded.bytes, reactions = reactions + excluded.reactions`,
  );
  const roomCounts = db.prepare<[string], RoomCounts>(ROOM_COUNTS);
  const adjustRoom = (room: string, bytes: number, reactions: number): RoomCounts | null => {
    upsertRoom.run(room, bytes, reactions);
    return roomCounts.get(room) ?? null;
  };
  const hasEmoji = db.prepare<[...Key, string], { one: number }>(`SELECT 1 AS one FROM reactions WHERE ${key} AND emoji = ? LIMIT 1`);
  const nextEmoji = db
    .prepare<[...Key, string], string>(`SELECT emoji FROM reactions WHERE ${key} AND emoji > ? ORDER BY emoji LIMIT 1`)
    .pluck();
  const react = db.prepare<[...Key, string, string]>('INSERT OR IGNORE INTO reactions (room, ms, seq, emoji, user) VALUES (?, ?, ?, ?, ?)');
  const unreact = db.prepare<[...Key, string, string]>(`DELETE FROM reactions WHERE ${key} AND emoji = ? AND user = ?`);
  const countEmoji = db.prepare<[...Key, string], number>(`SELECT count(*) FROM reactions WHERE ${key} AND emoji = ?`).pluck();
  // Every SET reads the row as it was: the marker moves only to a later message.
  const markRead = db.prepare<[string, string, number, number]>(
    `INSERT INTO reads (user, room, ms, seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (user, room) DO UPDATE SET
       ms = iif((excluded.ms, excluded.seq) > (ms, seq), excluded.ms, ms),
       seq = iif((excluded.ms, excluded.seq) > (ms, seq), excluded.seq, seq)`,
  );
  const marker = db.prepare<[string, string], { ms: number; seq: number }>('SELECT ms, seq FROM reads WHERE user = ? AND room = ?');

  /** How many distinct emoji the message has, counted up to MAX_REACTIONS: a seek each, however many users reacted. */
  function distinctEmoji(at: Key): number {
    let count = 0;
    let emoji = '';
    while (count < MAX_REACTIONS) {
      const next = nextEmoji.get(...at, emoji);
      if (next === undefined) break;
      count += 1;
      emoji = next;
    }
    return count;
  }

  /**
   * The emoji's count after the toggle, and the room's counts if its reactions changed;
   * null when it would be one distinct emoji too many.
   */
  function toggle(at: Key, emoji: string, user: string, on: boolean): { count: number; counts: RoomCounts | null } | null {
    const [room] = at;
    let counts: RoomCounts | null = null;
    if (on) {
      if (hasEmoji.get(...at, emoji) === undefined && distinctEmoji(at) >= MAX_REACTIONS) return null;
      if (react.run(...at, emoji, user).changes > 0) counts = adjustRoom(room, 0, 1);
    } else if (unreact.run(...at, emoji, user).changes > 0) counts = adjustRoom(room, 0, -1);
    return { count: countEmoji.get(...at, emoji) as number, counts };
  }

  return (room, change) => {
    const parts = idParts(change.id);
    if (parts === null) return refused('not_found');
    const at: Key = [room, parts[0], parts[1]];
    const found = find.get(...at);
    if (found === undefined || found.deleted !== 0) return refused('not_found');
    switch (change.kind) {
      case 'edit': {
        const refusal = refusalFor(asMessage(change.id, found), change.by);
        if (refusal !== null) return refused(refusal);
        edit.run(change.text, change.at, ...at);
        const bytes = Buffer.byteLength(change.text, 'utf8') - found.textBytes;
        const outcome: ChangeResult = { kind: 'edit', id: change.id, text: change.text, version: found.version + 1, editedAt: change.at };
        const message: EditedMessage = { id: change.id, name: found.name, at: found.at, user: found.user ?? undefined };
        return { outcome, bytes, counts: adjustRoom(room, bytes, 0), message };
      }
      case 'delete': {
        const refusal = refusalFor(asMessage(change.id, found), change.by);
        if (refusal !== null) return refused(refusal);
        erase.run(...at);
        const reactions = dropReactions.run(...at).changes;
        const bytes = -(found.nameBytes + found.textBytes);
        return { outcome: { kind: 'delete', id: change.id }, bytes, counts: adjustRoom(room, bytes, -reactions) };
      }
      case 'react': {
        const toggled = toggle(at, change.emoji, change.user, change.on);
        if (toggled === null) return refused('too_many_reactions');
        const { count, counts } = toggled;
        return { outcome: { kind: 'reaction', id: change.id, emoji: change.emoji, count }, bytes: 0, counts };
      }
      case 'read': {
        markRead.run(change.user, room, parts[0], parts[1]);
        const moved = marker.get(change.user, room) as { ms: number; seq: number };
        return { outcome: { kind: 'read', id: `${moved.ms}-${moved.seq}`, user: change.user }, bytes: 0, counts: null };
      }
    }
  };
}
