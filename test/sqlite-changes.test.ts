/**
 * The SQLite store's edits, deletes, reactions, older pages and read markers, against a
 * real SqliteStore on a real DATA_DIR: the memory store's rules (its `pageOf` is the
 * reference for pages), the counts the bounds rely on kept exact, a delete's text gone
 * from the files, and databases of earlier schemas upgraded with their messages.
 */
import Database from 'better-sqlite3';
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_REACTIONS, type ChatMessage, type HistoryMessage } from '../server/protocol';
import { pageOf } from '../server/store/memory-store';
import { compareIds } from '../server/store/message-id';
import {
  StoreUnavailableError,
  type Actor,
  type ChangeRefusal,
  type ChangeResult,
  type MessageChange,
  type ReadQuery,
} from '../server/store/message-store';
import { DATABASE_FILE, SqliteStore, type SqliteStoreOptions } from '../server/store/sqlite-store';
import { ROW_BYTES, SCHEMA_VERSION } from '../server/store/sqlite/schema';
import { createLogger } from '../server/support/logger';
import { onCleanup } from './support/cleanup';
import { readDatabase, SCHEMA_0 } from './support/database-file';
import { freshDataDir } from './support/data-dir';

type Options = Partial<Omit<SqliteStoreOptions, 'dir' | 'logger'>>;
type Outcome = ChangeResult | ChangeRefusal | StoreUnavailableError;

/** A store on `dir`, closed after the test (closing twice is harmless). */
function openStore(dir: string, options: Options = {}): SqliteStore {
  const store = new SqliteStore({ dir, keep: 10_000, logger: createLogger('silent'), ...options });
  onCleanup('servers', () => store.close());
  return store;
}

function append(store: SqliteStore, room: string, text: string, user?: string, name = 'ann'): Promise<ChatMessage> {
  return new Promise((resolve, reject) => store.append(room, name, text, (err, message) => (message === null ? reject(err) : resolve(message)), user));
}

function change(store: SqliteStore, room: string, made: MessageChange): Promise<Outcome> {
  return new Promise((resolve) => store.change(room, made, resolve));
}

const edit = (store: SqliteStore, room: string, id: string, text: string, by: Actor, at = 1000) => change(store, room, { kind: 'edit', id, text, by, at });
const remove = (store: SqliteStore, room: string, id: string, by: Actor) => change(store, room, { kind: 'delete', id, by });
const react = (store: SqliteStore, room: string, id: string, user: string, emoji: string, on = true) => change(store, room, { kind: 'react', id, user, emoji, on });
const markRead = (store: SqliteStore, room: string, id: string, user: string) => change(store, room, { kind: 'read', id, user });

/** Every message of `room`, as history shows them. */
const everything = (store: SqliteStore, room: string): HistoryMessage[] => [...store.recent(room, 100_000)];

/**
 * What the bounds rely on holds: each room's row counts its messages, their bytes and its
 * reactions; the totals add them up; no reaction outlives its message, no read marker its room.
 */
function expectCountsExact(dir: string): void {
  readDatabase(dir, (db) => {
    const kept = db.prepare("SELECT name, count, bytes, reactions FROM rooms WHERE name <> '' ORDER BY name").all();
    const actual = db
      .prepare(
        `SELECT room AS name, count(*) AS count, sum(${ROW_BYTES}) AS bytes,
           (SELECT count(*) FROM reactions r WHERE r.room = m.room) AS reactions
         FROM messages m GROUP BY room ORDER BY room`,
      )
      .all();
    expect(kept).toEqual(actual);
    const totals = db.prepare("SELECT count, bytes FROM rooms WHERE name = ''").get();
    expect(totals).toEqual(db.prepare("SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM rooms WHERE name <> ''").get());
    const orphans = `SELECT count(*) FROM reactions r WHERE NOT EXISTS (
      SELECT 1 FROM messages m WHERE m.room = r.room AND m.ms = r.ms AND m.seq = r.seq AND m.deleted = 0)`;
    expect(db.prepare(orphans).pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM reads WHERE room NOT IN (SELECT name FROM rooms)').pluck().get()).toBe(0);
  });
}

/** How history shows `messages` in short: `text` (with its reactions, by emoji), or `deleted`. */
const shown = (messages: readonly HistoryMessage[]) =>
  messages.map((m) => {
    if ('deleted' in m) return 'deleted';
    if (m.reactions === undefined) return m.text;
    return `${m.text} ${Object.entries(m.reactions)
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(([emoji, count]) => `${emoji}${count}`)
      .join(' ')}`;
  });

describe('edits', () => {
  it('lets the author (or anyone for `any`) edit, refuses others, and shows the latest version in history', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const mine = await append(store, 'lobby', 'first draft', 'u1');
    const anonymous = await append(store, 'lobby', 'no user');
    expect(mine.user).toBe('u1');
    expect('user' in anonymous).toBe(false);

    expect(await edit(store, 'lobby', mine.id, 'by someone else', { user: 'u2' })).toBe('forbidden');
    expect(await edit(store, 'lobby', mine.id, 'by a connection that did not send it', 'none')).toBe('forbidden');
    expect(await edit(store, 'lobby', anonymous.id, 'as a user', { user: 'u1' })).toBe('forbidden');
    expect(await edit(store, 'lobby', mine.id, 'second draft', { user: 'u1' }, 2000)).toEqual({
      kind: 'edit',
      id: mine.id,
      text: 'second draft',
      version: 1,
      editedAt: 2000,
    });
    expect(await edit(store, 'lobby', mine.id, 'final, and longer than the drafts', 'any', 3000)).toMatchObject({ version: 2, editedAt: 3000 });
    expect(await edit(store, 'lobby', anonymous.id, 'through the API', 'any', 4000)).toMatchObject({ version: 1 });

    // In another room, malformed, never stored: not found alike.
    expect(await edit(store, 'elsewhere', mine.id, 'x', 'any')).toBe('not_found');
    expect(await edit(store, 'lobby', 'not-an-id', 'x', 'any')).toBe('not_found');
    expect(await edit(store, 'lobby', '1-0', 'x', 'any')).toBe('not_found');

    // No `user` key without a user, no version while never edited (toStrictEqual tells).
    const untouched = await append(store, 'lobby', 'never edited');
    expect(everything(store, 'lobby')).toStrictEqual([
      { id: mine.id, text: 'final, and longer than the drafts', name: 'ann', at: mine.at, user: 'u1', version: 2, editedAt: 3000 },
      { id: anonymous.id, text: 'through the API', name: 'ann', at: anonymous.at, version: 1, editedAt: 4000 },
      { id: untouched.id, text: 'never edited', name: 'ann', at: untouched.at },
    ]);
    expectCountsExact(dir);
  });

  it('finds a message appended earlier in the same turn, and answers every change in order after the commit', async () => {
    const dir = freshDataDir();
    // A clock that stands still: the ids are known before they are handed out.
    const clock = 1_700_000_000_000;
    const store = openStore(dir, { now: () => clock });
    const first = await append(store, 'lobby', 'an older one', 'u1');
    expect(first.id).toBe(`${clock}-0`);
    const next = `${clock}-1`;

    const answered: string[] = [];
    const track = <T>(what: string, outcome: Promise<T>) =>
      outcome.then((value) => {
        answered.push(what);
        return value;
      });
    // One turn: appended, edited, reacted to, refused, another appended, an older one deleted.
    const all = Promise.all([
      track('append', append(store, 'lobby', 'typo', 'u1')),
      track('edit', edit(store, 'lobby', next, 'fixed', { user: 'u1' }, 5000)),
      track('react', react(store, 'lobby', next, 'u2', '👍')),
      track('refused', edit(store, 'lobby', next, 'not yours', { user: 'u2' })),
      track('append again', append(store, 'lobby', 'after it', 'u2')),
      track('delete', remove(store, 'lobby', first.id, { user: 'u1' })),
    ]);
    // Nothing of the turn is stored before its end.
    expect(shown(everything(store, 'lobby'))).toEqual(['an older one']);
    const [appended, edited, reacted, refused, again, deleted] = await all;
    expect(answered).toEqual(['append', 'edit', 'react', 'refused', 'append again', 'delete']);
    expect(appended.id).toBe(next);
    expect([edited, reacted, refused, deleted]).toEqual([
      { kind: 'edit', id: next, text: 'fixed', version: 1, editedAt: 5000 },
      { kind: 'reaction', id: next, emoji: '👍', count: 1 },
      'forbidden',
      { kind: 'delete', id: first.id },
    ]);
    expect(again.id).toBe(`${clock}-2`);
    expect(shown(everything(store, 'lobby'))).toEqual(['deleted', 'fixed 👍1', 'after it']);
    expectCountsExact(dir);
  });
});

describe('deletes', () => {
  it('leaves a tombstone in recent, read, read after an id and before one; author, or anyone for `any`', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const a = await append(store, 'lobby', 'a', 'u1');
    const b = await append(store, 'lobby', 'b', 'u1');
    const c = await append(store, 'lobby', 'c');
    const d = await append(store, 'lobby', 'd', 'u2');
    await react(store, 'lobby', b.id, 'u2', '🎉');

    expect(await remove(store, 'lobby', b.id, { user: 'u2' })).toBe('forbidden');
    expect(await remove(store, 'lobby', c.id, 'none')).toBe('forbidden');
    expect(await remove(store, 'lobby', b.id, { user: 'u1' })).toEqual({ kind: 'delete', id: b.id });
    expect(await remove(store, 'lobby', c.id, 'any')).toEqual({ kind: 'delete', id: c.id });
    // A tombstone is no message: nothing more can be done to it.
    expect(await remove(store, 'lobby', b.id, 'any')).toBe('not_found');
    expect(await edit(store, 'lobby', b.id, 'back', 'any')).toBe('not_found');
    expect(await react(store, 'lobby', b.id, 'u2', '🎉')).toBe('not_found');
    expect(await markRead(store, 'lobby', c.id, 'u2')).toBe('not_found');

    const tombstone = (m: ChatMessage) => ({ id: m.id, at: m.at, deleted: true });
    const expected = [a, tombstone(b), tombstone(c), d];
    expect(store.recent('lobby', 10)).toStrictEqual(expected);
    expect(store.read('lobby', { limit: 10 })).toStrictEqual({ messages: expected, complete: true, more: false });
    expect(store.read('lobby', { since: a.id, limit: 10 })).toStrictEqual({ messages: expected.slice(1), complete: true, more: false });
    expect(store.read('lobby', { before: d.id, limit: 2 })).toStrictEqual({ messages: expected.slice(1, 3), complete: true, more: true });
    // Its name, text, sender and reactions are gone from the row, not only from view.
    readDatabase(dir, (db) => {
      const row = db.prepare("SELECT name, text, user, deleted FROM messages WHERE room = ? AND ms || '-' || seq = ?").get('lobby', b.id);
      expect(row).toEqual({ name: '', text: '', user: null, deleted: 1 });
      expect(db.prepare('SELECT count(*) FROM reactions').pluck().get()).toBe(0);
    });
    expectCountsExact(dir);
  });
});

describe('reactions', () => {
  it('counts one per user per emoji, toggles off, shows counts in history, and refuses a 21st distinct emoji', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const message = await append(store, 'lobby', 'react to me');
    const other = await append(store, 'lobby', 'and not to me');
    const { id } = message;

    expect(await react(store, 'lobby', id, 'u1', '👍')).toEqual({ kind: 'reaction', id, emoji: '👍', count: 1 });
    expect(await react(store, 'lobby', id, 'u2', '👍')).toEqual({ kind: 'reaction', id, emoji: '👍', count: 2 });
    // Again by the same user: still one of theirs.
    expect(await react(store, 'lobby', id, 'u2', '👍')).toMatchObject({ count: 2 });
    expect(await react(store, 'lobby', id, 'u2', '❤️')).toMatchObject({ count: 1 });
    expect(shown(everything(store, 'lobby'))).toEqual(['react to me ❤️1 👍2', 'and not to me']);

    // Taken back: by someone who never reacted (nothing changes), by the reactors.
    expect(await react(store, 'lobby', id, 'u3', '👍', false)).toMatchObject({ count: 2 });
    expect(await react(store, 'lobby', id, 'u1', '👍', false)).toMatchObject({ count: 1 });
    expect(await react(store, 'lobby', id, 'u2', '❤️', false)).toEqual({ kind: 'reaction', id, emoji: '❤️', count: 0 });
    expect(await react(store, 'lobby', id, 'u2', '🙃', false)).toMatchObject({ count: 0 });
    expect(shown(everything(store, 'lobby'))).toEqual(['react to me 👍1', 'and not to me']);
    expect(await react(store, 'lobby', id, 'u2', '👍', false)).toMatchObject({ count: 0 });
    expect('reactions' in (everything(store, 'lobby')[0] as ChatMessage)).toBe(false);

    // MAX_REACTIONS distinct emoji, by many users; then a new one is refused, a known one is not.
    const emoji = Array.from({ length: MAX_REACTIONS }, (_, i) => `e${i}`);
    for (const [i, e] of emoji.entries()) expect(await react(store, 'lobby', id, `user-${i}`, e)).toMatchObject({ count: 1 });
    expect(await react(store, 'lobby', id, 'u1', 'one too many')).toBe('too_many_reactions');
    expect(await react(store, 'lobby', id, 'u1', 'e7')).toMatchObject({ count: 2 });
    // Another message has room for its own.
    expect(await react(store, 'lobby', other.id, 'u1', 'one too many')).toMatchObject({ count: 1 });
    // One emoji gone entirely: a new one fits again.
    expect(await react(store, 'lobby', id, 'user-3', 'e3', false)).toMatchObject({ count: 0 });
    expect(await react(store, 'lobby', id, 'u1', 'one too many')).toMatchObject({ count: 1 });
    expect(Object.keys((everything(store, 'lobby')[0] as ChatMessage).reactions ?? {})).toHaveLength(MAX_REACTIONS);

    // A key like any other, not the object's prototype.
    expect(await react(store, 'lobby', other.id, 'u2', '__proto__')).toMatchObject({ count: 1 });
    expect(JSON.stringify((everything(store, 'lobby')[1] as ChatMessage).reactions)).toBe('{"__proto__":1,"one too many":1}');

    expect(await react(store, 'lobby', '1-0', 'u1', '👍')).toBe('not_found');
    expect(await react(store, 'elsewhere', id, 'u1', '👍')).toBe('not_found');
    expectCountsExact(dir);
  });

  it('go with the messages trimmed past HISTORY_KEEP, and with a room dropped past MAX_STORED_ROOMS', async () => {
    const dir = freshDataDir();
    const store = openStore(dir, { keep: 3, maxRooms: 2 });
    const old1 = await append(store, 'lobby', 'one');
    const old2 = await append(store, 'lobby', 'two');
    const kept = await append(store, 'lobby', 'three');
    for (const user of ['u1', 'u2']) {
      for (const m of [old1, old2, kept]) await react(store, 'lobby', m.id, user, '👍');
    }
    await react(store, 'lobby', old2.id, 'u1', '🔥');
    const reactionRows = () => readDatabase(dir, (db) => db.prepare("SELECT ms || '-' || seq AS id, emoji, user FROM reactions ORDER BY ms, seq, emoji, user").all());
    expect(reactionRows()).toHaveLength(7);

    // Two more: the two oldest go, and their reactions with them, in the same commit.
    await Promise.all([append(store, 'lobby', 'four'), append(store, 'lobby', 'five')]);
    expect(shown(everything(store, 'lobby'))).toEqual(['three 👍2', 'four', 'five']);
    expect(reactionRows()).toEqual([
      { id: kept.id, emoji: '👍', user: 'u1' },
      { id: kept.id, emoji: '👍', user: 'u2' },
    ]);
    expectCountsExact(dir);

    // A second room, then a third: the lobby (idle longest) goes whole, reactions and read markers too.
    await markRead(store, 'lobby', kept.id, 'u1');
    const second = await append(store, 'second', 'hi');
    await markRead(store, 'second', second.id, 'u1');
    expect(store.userRooms('u1', 10).map((room) => room.name)).toEqual(['lobby', 'second']);
    await append(store, 'third', 'hi');
    expect(everything(store, 'lobby')).toEqual([]);
    expect(reactionRows()).toEqual([]);
    expect(store.userRooms('u1', 10).map((room) => room.name)).toEqual(['second']);
    expect(readDatabase(dir, (db) => db.prepare('SELECT room FROM reads').pluck().all())).toEqual(['second']);
    expectCountsExact(dir);
  });

  it('go with the oldest messages trimmed past MAX_STORED_BYTES', async () => {
    const dir = freshDataDir();
    const store = openStore(dir, { maxBytes: 3000 });
    const big = 'x'.repeat(900);
    const first = await append(store, 'lobby', big);
    await react(store, 'lobby', first.id, 'u1', '👍');
    await append(store, 'lobby', big);
    await append(store, 'lobby', big);
    // A fourth of 900 bytes passes the bound: the oldest goes, its reaction with it.
    await append(store, 'lobby', big);
    expect(everything(store, 'lobby').map((m) => m.id)).not.toContain(first.id);
    expect(readDatabase(dir, (db) => db.prepare('SELECT count(*) FROM reactions').pluck().get())).toBe(0);
    expectCountsExact(dir);
  });
});

describe('older history', () => {
  it('pages through 1000 messages a hundred at a time, before the first of each page, nothing missing or repeated', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch += 1) {
      const texts = Array.from({ length: 100 }, (_, i) => `message ${batch * 100 + i}`);
      ids.push(...(await Promise.all(texts.map((text) => append(store, 'lobby', text)))).map((m) => m.id));
    }
    const seen: string[] = [];
    let before: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const read = store.read('lobby', { before, limit: 100 });
      expect(read.messages).toHaveLength(100);
      expect(read.more).toBe(page < 9);
      seen.unshift(...read.messages.map((m) => m.id));
      before = read.messages[0]?.id;
    }
    expect(seen).toEqual(ids);
    expect(store.read('lobby', { before, limit: 100 })).toEqual({ messages: [], complete: true, more: false });
  });

  it('answers every query as the memory store’s pageOf does, reactions and tombstones counted in maxBytes', async () => {
    const dir = freshDataDir();
    // Ten milliseconds between messages: there are ids between them that are none of theirs.
    let clock = 1_700_000_000_000;
    const store = openStore(dir, { now: () => (clock += 10) });
    const messages: ChatMessage[] = [];
    for (let i = 0; i < 12; i += 1) messages.push(await append(store, 'lobby', `${i} `.padEnd(20 + i * 7, '\u0001'), i % 3 === 0 ? 'u1' : undefined));
    const id = (i: number) => (messages[i] as ChatMessage).id;
    for (const i of [2, 5, 6, 11]) {
      for (let e = 0; e < 6; e += 1) await react(store, 'lobby', id(i), `user-${e}`, `emoji-${i}-${e}`);
    }
    await edit(store, 'lobby', id(5), 'edited', 'any');
    await remove(store, 'lobby', id(6), 'any');
    await remove(store, 'lobby', id(0), 'any');
    const all = everything(store, 'lobby');
    const between = `${(messages[4] as ChatMessage).at + 5}-0`;
    const queries: ReadQuery[] = [];
    for (const limit of [1, 3, 5, 20]) {
      for (const maxBytes of [undefined, 1, 200, 400, 900, 2000]) {
        for (const at of [undefined, id(0), id(3), id(6), id(11), between, '1-0', '99999999999999-0']) {
          queries.push({ limit, maxBytes, before: at }, { limit, maxBytes, since: at });
        }
      }
    }
    for (const query of queries) {
      expect([query, store.read('lobby', query)]).toEqual([query, pageOf(all, query)]);
    }
  });
});

describe('read markers', () => {
  it('move forward only, and list the user’s rooms with what is unread there', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const lobby: ChatMessage[] = [];
    for (let i = 0; i < 6; i += 1) lobby.push(await append(store, 'lobby', `lobby ${i}`));
    const team0 = await append(store, 'team', 'team 0');
    const team1 = await append(store, 'team', 'team 1');
    await append(store, 'unmarked', 'nobody read this');
    const at = (i: number) => (lobby[i] as ChatMessage).id;

    expect(store.userRooms('u1', 10)).toEqual([]);
    expect(await markRead(store, 'lobby', at(2), 'u1')).toEqual({ kind: 'read', id: at(2), user: 'u1' });
    // An older one leaves it where it is, and says where that is.
    expect(await markRead(store, 'lobby', at(1), 'u1')).toEqual({ kind: 'read', id: at(2), user: 'u1' });
    expect(await markRead(store, 'lobby', at(2), 'u1')).toEqual({ kind: 'read', id: at(2), user: 'u1' });
    expect(await markRead(store, 'lobby', '1-0', 'u1')).toBe('not_found');
    expect(await markRead(store, 'team', at(3), 'u1')).toBe('not_found');
    expect(await markRead(store, 'team', team0.id, 'u1')).toMatchObject({ id: team0.id });
    expect(await markRead(store, 'lobby', at(4), 'u2')).toMatchObject({ id: at(4), user: 'u2' });
    // A tombstone after the marker is not unread.
    await remove(store, 'lobby', at(3), 'any');

    expect(store.userRooms('u1', 10)).toEqual([
      { name: 'lobby', lastId: at(5), lastReadId: at(2), unread: 2 },
      { name: 'team', lastId: team1.id, lastReadId: team0.id, unread: 1 },
    ]);
    expect(store.userRooms('u1', 1).map((room) => room.name)).toEqual(['lobby']);
    expect(store.userRooms('u2', 10)).toEqual([{ name: 'lobby', lastId: at(5), lastReadId: at(4), unread: 1 }]);
    expect(await markRead(store, 'lobby', at(5), 'u1')).toMatchObject({ id: at(5) });
    expect(store.userRooms('u1', 10)[0]).toEqual({ name: 'lobby', lastId: at(5), lastReadId: at(5), unread: 0 });
    expectCountsExact(dir);
  });
});

describe('durability', () => {
  it('keeps edits, tombstones, reactions and read markers across a close and a reopen', async () => {
    const dir = freshDataDir();
    const first = openStore(dir);
    const a = await append(first, 'lobby', 'a', 'u1');
    const b = await append(first, 'lobby', 'b', 'u1');
    const c = await append(first, 'lobby', 'c');
    await edit(first, 'lobby', a.id, 'a, edited', { user: 'u1' }, 7000);
    await remove(first, 'lobby', b.id, { user: 'u1' });
    await react(first, 'lobby', c.id, 'u2', '👍');
    await markRead(first, 'lobby', a.id, 'u2');
    const before = { history: everything(first, 'lobby'), rooms: first.userRooms('u2', 10) };
    first.close();

    const second = openStore(dir);
    expect({ history: everything(second, 'lobby'), rooms: second.userRooms('u2', 10) }).toEqual(before);
    expect(before.history).toEqual([
      { id: a.id, text: 'a, edited', name: 'ann', at: a.at, user: 'u1', version: 1, editedAt: 7000 },
      { id: b.id, at: b.at, deleted: true },
      { id: c.id, text: 'c', name: 'ann', at: c.at, reactions: { '👍': 1 } },
    ]);
    expect(before.rooms).toEqual([{ name: 'lobby', lastId: c.id, lastReadId: a.id, unread: 1 }]);
    // The reopened store goes on where the first stopped.
    expect(await edit(second, 'lobby', a.id, 'a, again', 'any')).toMatchObject({ version: 2 });
  });

  it('answers a change the store cannot take with StoreUnavailableError', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    const message = await append(store, 'lobby', 'hello');
    // The file removed under the store: the commit is refused rather than lost with it.
    unlinkSync(join(dir, DATABASE_FILE));
    const outcome = await react(store, 'lobby', message.id, 'u1', '👍');
    expect(outcome).toBeInstanceOf(StoreUnavailableError);
    expect((outcome as StoreUnavailableError).reason).toBe('database file removed');
    store.close();
    expect(await edit(store, 'lobby', message.id, 'x', 'any')).toBeInstanceOf(StoreUnavailableError);
  });
});

describe('secure delete', () => {
  /** Whether any file of `dir` holds `marker` (as UTF-8 bytes). */
  const inFiles = (dir: string, marker: string) => readdirSync(dir).some((file) => readFileSync(join(dir, file)).includes(Buffer.from(marker, 'utf8')));

  it('leaves nothing of a deleted or edited message’s text in the files once the store is closed', async () => {
    const dir = freshDataDir();
    const store = openStore(dir);
    // Another process with the file open (a worker of WORKERS > 1): the store's close is
    // then not the last, which alone would checkpoint the log and remove it.
    const worker = new Database(join(dir, DATABASE_FILE));
    onCleanup('servers', () => worker.close());
    expect(worker.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
    // Short (in the row's page) and long (overflow pages), deleted; one edited away.
    const short = await append(store, 'lobby', 'gone: QUOKKAFENNEL', 'u1', 'PANGOLINNAME');
    const long = await append(store, 'lobby', 'WOMBATLANTERN '.repeat(2000), 'u1');
    const edited = await append(store, 'lobby', 'was: IBEXMARMALADE', 'u1');
    await react(store, 'lobby', short.id, 'OKAPIREACTOR', '👍');
    const kept = await append(store, 'lobby', 'stays: NARWHALKEPT');
    for (const marker of ['QUOKKAFENNEL', 'PANGOLINNAME', 'WOMBATLANTERN', 'IBEXMARMALADE', 'OKAPIREACTOR', 'NARWHALKEPT']) {
      expect([marker, inFiles(dir, marker)]).toEqual([marker, true]);
    }

    expect(await remove(store, 'lobby', short.id, 'any')).toMatchObject({ kind: 'delete' });
    expect(await remove(store, 'lobby', long.id, 'any')).toMatchObject({ kind: 'delete' });
    expect(await edit(store, 'lobby', edited.id, 'is: something else', 'any')).toMatchObject({ version: 1 });
    store.close();

    expect(readdirSync(dir).sort()).toEqual([DATABASE_FILE, `${DATABASE_FILE}-shm`, `${DATABASE_FILE}-wal`]);
    for (const marker of ['QUOKKAFENNEL', 'PANGOLINNAME', 'WOMBATLANTERN', 'IBEXMARMALADE', 'OKAPIREACTOR']) {
      expect([marker, inFiles(dir, marker)]).toEqual([marker, false]);
    }
    // What was not deleted is still there, where it was (the search can find text).
    expect(inFiles(dir, 'NARWHALKEPT')).toBe(true);
    expect(everything(openStore(dir), 'lobby').map((m) => m.id)).toEqual([short.id, long.id, edited.id, kept.id]);
  });
});

describe('schema upgrades', () => {
  /** The columns of every table, as SQLite describes them: what a new file and an upgraded one must agree on. */
  const layout = (dir: string) =>
    readDatabase(dir, (db) => {
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[];
      const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all();
      return { tables: tables.map((table) => [table, db.pragma(`table_info(${table})`)]), indexes };
    });

  /** Schema 1 as an earlier version of this server created it. */
  const SCHEMA_1 = `
    CREATE TABLE messages (
      room TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (room, ms, seq)
    ) WITHOUT ROWID;
    CREATE TABLE rooms (
      name TEXT PRIMARY KEY, count INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, last_ms INTEGER NOT NULL DEFAULT 0,
      last_seq INTEGER NOT NULL DEFAULT 0, last_at INTEGER NOT NULL DEFAULT 0, last_s INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX rooms_by_second ON rooms (last_s);
    INSERT INTO rooms (name, last_s) VALUES ('', ${Number.MAX_SAFE_INTEGER});
    CREATE TABLE probe (one INTEGER PRIMARY KEY CHECK (one = 1));
    PRAGMA user_version = 1;`;


  /** A file of an earlier schema holding five messages in each of two rooms; their ids by room. */
  function olderFile(dir: string, schema: string, withCounts: boolean): Record<string, string[]> {
    const db = new Database(join(dir, DATABASE_FILE));
    db.pragma('journal_mode = WAL');
    db.exec(schema);
    const ids: Record<string, string[]> = { lobby: [], team: [] };
    db.transaction(() => {
      for (let i = 0; i < 5; i += 1) {
        for (const room of ['lobby', 'team']) {
          db.prepare('INSERT INTO messages (room, ms, seq, name, text, at) VALUES (?, ?, ?, ?, ?, ?)').run(room, 1000 + i, 0, 'old', `${room} ${i}`, 1000 + i);
          ids[room]?.push(`${1000 + i}-0`);
        }
      }
      if (withCounts) {
        db.exec(`INSERT INTO rooms (name, count, bytes, last_ms, last_seq, last_at, last_s)
          SELECT room, count(*), sum(${ROW_BYTES}), max(ms), 0, max(at), max(ms) / 1000 FROM messages GROUP BY room`);
        db.exec(`UPDATE rooms SET count = 2, bytes = (SELECT sum(${ROW_BYTES}) FROM messages), last_ms = 1004 WHERE name = ''`);
      } else {
        db.exec("INSERT INTO rooms (name) VALUES ('lobby'), ('team')");
      }
    })();
    db.close();
    return ids;
  }

  it('upgrades a file of schema 1 and of schema 0 to the layout of a new file, every message intact and changeable', async () => {
    const fresh = freshDataDir();
    openStore(fresh).close();
    expect(readDatabase(fresh, (db) => db.pragma('user_version', { simple: true }))).toBe(SCHEMA_VERSION);

    for (const [schema, withCounts] of [
      [SCHEMA_1, true],
      [SCHEMA_0, false],
    ] as const) {
      const dir = freshDataDir();
      const ids = olderFile(dir, schema, withCounts);
      const store = openStore(dir);
      expect(store.recent('lobby', 100)).toStrictEqual((ids.lobby ?? []).map((id, i) => ({ id, text: `lobby ${i}`, name: 'old', at: 1000 + i })));
      expect(store.read('team', { limit: 2, before: ids.team?.[3] }).messages.map((m) => m.id)).toEqual(ids.team?.slice(1, 3));
      const lobby0 = ids.lobby?.[0] as string;
      // Messages stored before users were kept have none: only `any` may change them.
      expect(await edit(store, 'lobby', lobby0, 'edited after the upgrade', { user: 'old' })).toBe('forbidden');
      expect(await edit(store, 'lobby', lobby0, 'edited after the upgrade', 'any')).toMatchObject({ version: 1 });
      expect(await react(store, 'lobby', lobby0, 'u1', '👍')).toMatchObject({ count: 1 });
      expect(await markRead(store, 'team', ids.team?.[1] as string, 'u1')).toMatchObject({ kind: 'read' });
      const posted = await append(store, 'team', 'new', 'u1');
      expect(compareIds(posted.id, ids.team?.at(-1) ?? '')).toBeGreaterThan(0);
      expect(store.userRooms('u1', 10)).toEqual([{ name: 'team', lastId: posted.id, lastReadId: ids.team?.[1], unread: 4 }]);
      store.close();
      expect(layout(dir)).toEqual(layout(fresh));
      expect(readDatabase(dir, (db) => db.pragma('user_version', { simple: true }))).toBe(SCHEMA_VERSION);
      expectCountsExact(dir);
    }
  });
});
