/**
 * The webhook outbox in the store's SQLite file (schema 3): events are written inside a
 * turn's commit, with the messages they describe, and read, removed and leased by the
 * delivery in transactions of their own. Several workers sharing the file share one
 * outbox, one member count and one lease.
 */
import type { Database as Db } from 'better-sqlite3';
import type { MemberRef, OutboxDepth, WebhookEvent, WebhookEventType } from '../event-outbox';
import { memberEvents, type NewEvent } from '../webhook-events';

/** What a commit writes to the outbox. */
export interface OutboxWriter {
  add(event: NewEvent): void;
  /** A connection of `who` came (`+1`) or went (`-1`) on `node`: its events, if it was the first or last. */
  member(room: string, who: MemberRef, delta: 1 | -1, node: string, at: number): void;
}

/** What the delivery does, each in a transaction of its own. */
export interface OutboxReader {
  lease(owner: string, ttlMs: number, now: number): boolean;
  release(owner: string): void;
  oldest(limit: number): WebhookEvent[];
  /** Removes every event up to and including `id`. */
  removeUpTo(id: string): void;
  expire(at: number): number;
  depth(): OutboxDepth;
  /** Every member `node` counted left (its process ended without telling): their events, now. */
  releaseNode(node: string, at: number): void;
}

interface Row {
  seq: number;
  type: WebhookEventType;
  room: string | null;
  at: number;
  data: string;
}

interface MemberRow {
  room: string;
  key: string;
  name: string;
  user: string | null;
  conns: number;
}

/** Prepares the outbox's statements on `db` (schema 3). */
export function prepareOutbox(db: Db): { writer: OutboxWriter; reader: OutboxReader } {
  const epoch = (db.prepare("SELECT value FROM outbox_meta WHERE name = 'epoch'").pluck().get() as string | undefined) ?? '0';
  const prefix = `evt_${epoch}_`;
  const insert = db.prepare<[string, string | null, number, string]>('INSERT INTO outbox (type, room, at, data) VALUES (?, ?, ?, ?)');
  const memberConns = db.prepare<[string, string], number>('SELECT coalesce(sum(conns), 0) FROM members WHERE room = ? AND key = ?').pluck();
  const nodeConns = db.prepare<[string, string, string], number>('SELECT conns FROM members WHERE room = ? AND key = ? AND node = ?').pluck();
  const roomMembers = db.prepare<[string], number>('SELECT count(DISTINCT key) FROM members WHERE room = ?').pluck();
  const addConn = db.prepare<[string, string, string, string, string | null]>(
    `INSERT INTO members (room, key, node, name, user, conns) VALUES (?, ?, ?, ?, ?, 1)
     ON CONFLICT (room, key, node) DO UPDATE SET conns = conns + 1`,
  );
  const takeConn = db.prepare<[string, string, string]>('UPDATE members SET conns = conns - 1 WHERE room = ? AND key = ? AND node = ?');
  const dropRow = db.prepare<[string, string, string]>('DELETE FROM members WHERE room = ? AND key = ? AND node = ? AND conns <= 0');
  const nodeRows = db.prepare<[string], MemberRow>('SELECT room, key, name, user, conns FROM members WHERE node = ?');
  const deleteNodeRow = db.prepare<[string, string, string]>('DELETE FROM members WHERE room = ? AND key = ? AND node = ?');
  const takeLease = db.prepare<[string, number, string, number]>(
    `INSERT INTO outbox_lease (one, owner, until) VALUES (1, ?, ?)
     ON CONFLICT (one) DO UPDATE SET owner = excluded.owner, until = excluded.until
     WHERE owner = ? OR until < ?`,
  );
  const releaseLease = db.prepare<[string]>('DELETE FROM outbox_lease WHERE owner = ?');
  const oldest = db.prepare<[number], Row>('SELECT seq, type, room, at, data FROM outbox ORDER BY seq LIMIT ?');
  const removeUpTo = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ?');
  const first = db.prepare<[], { seq: number; at: number }>('SELECT seq, at FROM outbox ORDER BY seq LIMIT 1');
  const last = db.prepare<[], number>('SELECT max(seq) FROM outbox').pluck();
  const byAge = db.prepare<[], { seq: number; at: number }>('SELECT seq, at FROM outbox ORDER BY seq');

  const writer: OutboxWriter = {
    add(event) {
      insert.run(event.type, event.room, event.at, event.data);
    },
    member(room, who, delta, node, at) {
      if (delta === -1 && (nodeConns.get(room, who.key, node) ?? 0) === 0) return;
      for (const event of memberEvents(room, who, delta, memberConns.get(room, who.key) as number, roomMembers.get(room) as number, at)) writer.add(event);
      if (delta === 1) addConn.run(room, who.key, node, who.name, who.user ?? null);
      else {
        takeConn.run(room, who.key, node);
        dropRow.run(room, who.key, node);
      }
    },
  };

  const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('_') + 1));

  const reader: OutboxReader = {
    lease: (owner, ttlMs, now) => takeLease.run(owner, now + ttlMs, owner, now).changes === 1,
    release: (owner) => void releaseLease.run(owner),
    oldest: (limit) => oldest.all(limit).map((row) => ({ id: prefix + row.seq, type: row.type, room: row.room, at: row.at, data: row.data })),
    removeUpTo: (id) => void removeUpTo.run(seqOf(id)),
    // Events are removed from the oldest only, so what is left is one run of numbers.
    expire: db.transaction((at: number) => {
      let upTo = -1;
      let count = 0;
      for (const row of byAge.iterate()) {
        if (row.at >= at) break;
        upTo = row.seq;
        count += 1;
      }
      if (upTo >= 0) removeUpTo.run(upTo);
      return count;
    }),
    depth: () => {
      const oldestRow = first.get();
      if (oldestRow === undefined) return { events: 0, oldestAt: null };
      return { events: (last.get() as number) - oldestRow.seq + 1, oldestAt: oldestRow.at };
    },
    releaseNode: db.transaction((node: string, at: number) => {
      for (const row of nodeRows.all(node)) {
        const who: MemberRef = row.user === null ? { key: row.key, name: row.name } : { key: row.key, name: row.name, user: row.user };
        if ((memberConns.get(row.room, row.key) as number) === row.conns) {
          for (const event of memberEvents(row.room, who, -1, 1, roomMembers.get(row.room) as number, at)) writer.add(event);
        }
        deleteNodeRow.run(row.room, row.key, node);
      }
    }),
  };
  return { writer, reader };
}
