import pino from 'pino';
import { RESP_TYPES } from 'redis';
import { DEFAULT_ROOM, isDeleted, type ChatMessage, type HistoryMessage } from '../server/protocol';
import { compareIds, idParts } from '../server/store/message-id';
import { StoreUnavailableError, type Actor, type MessageChange } from '../server/store/message-store';
import { readsKey, roomKeys } from '../server/store/redis/keys';
import { RedisStore } from '../server/store/redis-store';
import type { RedisProcess } from '../tools/redis-process';
import { connectRedisClient, describeWithRedis, startRedis, type RedisTestClient } from './support/redis';
import { append, appendAll, change, type ChangeOutcome } from './support/store-calls';

// A redis-server of its own, and 1000-message rooms.
jest.setTimeout(60_000);

const logger = pino({ level: 'silent' });

type Client = RedisTestClient;

async function openStore(url: string, keep = 10_000, maxRooms = 0) {
  const client = await connectRedisClient(url);
  return { client, store: new RedisStore(client, keep, maxRooms, logger) };
}





/**
 * Everything the server holds, every key with its contents read by its type, and its
 * DUMP (the raw encoding, where entries only marked deleted would still show).
 */
async function everything(client: Client): Promise<string> {
  const raw = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const parts: string[] = [];
  for (const key of await client.keys('*')) {
    const type = await client.type(key);
    const contents =
      type === 'stream'
        ? await client.xRange(key, '-', '+')
        : type === 'hash'
          ? await client.hGetAll(key)
          : type === 'zset'
            ? await client.zRangeWithScores(key, 0, -1)
            : type === 'set'
              ? await client.sMembers(key)
              : type === 'list'
                ? await client.lRange(key, 0, -1)
                : await client.get(key);
    const dump = (await raw.dump(key)) as unknown as Buffer;
    parts.push(key, type, JSON.stringify(contents), dump.toString('latin1'));
  }
  return parts.join('\n');
}

const textOf = (message: HistoryMessage | undefined) => (message === undefined || isDeleted(message) ? undefined : message.text);

describeWithRedis('the Redis store: edits, deletes, reactions, older history, read markers', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  beforeEach(async () => {
    await redis.flush();
  });

  it('keeps who sent a message when there is someone, and lets only its author (or anyone allowed) edit it', async () => {
    const { store } = await openStore(redis.url);
    const [mine, anon] = await Promise.all([append(store, 'a', 'first', 'u1'), append(store, 'a', 'anonymous')]);
    expect(mine).toEqual({ id: expect.any(String), text: 'first', name: 'ann', at: expect.any(Number), user: 'u1' });
    expect('user' in anon!).toBe(false);
    const read = await store.recent('a', 10);
    expect(read).toEqual([mine, anon]);
    expect('user' in read[1]!).toBe(false);

    const edit = (id: string, text: string, by: Actor, at = 5000) =>
      change(store, 'a', { kind: 'edit', id, text, by, at });
    expect(await edit(mine!.id, 'second', { user: 'u1' }, 5001)).toEqual({ kind: 'edit', id: mine!.id, text: 'second', version: 1, editedAt: 5001 });
    expect(await edit(mine!.id, 'by u2', { user: 'u2' })).toBe('forbidden');
    expect(await edit(mine!.id, 'by nobody', 'none')).toBe('forbidden');
    expect(await edit(mine!.id, 'third "quoted" \u00e9 \ud83d\ude00', 'any', 5003)).toMatchObject({ version: 2, editedAt: 5003 });
    expect(await edit(anon!.id, 'claimed', { user: 'u1' })).toBe('forbidden');
    expect(await edit(anon!.id, 'by the API', 'any', 5004)).toMatchObject({ version: 1 });
    expect(await edit('1-1', 'nothing there', 'any')).toBe('not_found');
    expect(await edit('not an id', 'nothing there', 'any')).toBe('not_found');
    // The same id written otherwise is no id of a stored message, as in the other stores.
    expect(await edit(`0${mine!.id}`, 'nothing there', 'any')).toBe('not_found');

    const edited = { ...mine, text: 'third "quoted" \u00e9 \ud83d\ude00', version: 2, editedAt: 5003 };
    const anonEdited = { ...anon, text: 'by the API', version: 1, editedAt: 5004 };
    expect(await store.recent('a', 10)).toEqual([edited, anonEdited]);
    expect(await store.read('a', { limit: 10 })).toEqual({ messages: [edited, anonEdited], complete: true, more: false });
    expect(await store.read('a', { since: mine!.id, limit: 10 })).toEqual({ messages: [anonEdited], complete: true, more: false });
    expect(await store.read('a', { before: anon!.id, limit: 10 })).toEqual({ messages: [edited], complete: true, more: false });
  });

  it('deletes a message from Redis itself: its text, edits and reactions are nowhere on the server, a tombstone in its place', async () => {
    const { client, store } = await openStore(redis.url);
    // The DUMP of a key as it is stored, not compressed: a marker in it can be searched for.
    await client.configSet('rdbcompression', 'no');
    const secret = 'SECRET-e7d1c0a9f35b';
    const edited = 'EDITED-4b8f2a61d09c';
    const reactor = 'REACTOR-91c3e5d7f2ab';
    const before = await appendAll(store, DEFAULT_ROOM, ['one', 'two']);
    const doomed = await append(store, DEFAULT_ROOM, `the ${secret} text`, 'u1', `NAME-${secret}`);
    const after = await appendAll(store, DEFAULT_ROOM, ['four', 'five'], 'u2');
    expect(await change(store, DEFAULT_ROOM, { kind: 'edit', id: doomed.id, text: `now ${edited}`, by: 'any', at: 7 })).toMatchObject({ version: 1 });
    expect(await change(store, DEFAULT_ROOM, { kind: 'react', id: doomed.id, emoji: '\ud83d\udc4d', user: reactor, on: true })).toMatchObject({ count: 1 });
    const held = await everything(client);
    for (const marker of [secret, edited, reactor]) expect(held).toContain(marker);
    const { stream } = roomKeys(DEFAULT_ROOM);
    const lastId = (await client.xInfoStream(stream))['last-generated-id'];

    expect(await change(store, DEFAULT_ROOM, { kind: 'delete', id: doomed.id, by: { user: 'u2' } })).toBe('forbidden');
    expect(await change(store, DEFAULT_ROOM, { kind: 'delete', id: doomed.id, by: 'none' })).toBe('forbidden');
    expect(await change(store, DEFAULT_ROOM, { kind: 'delete', id: doomed.id, by: { user: 'u1' } })).toEqual({ kind: 'delete', id: doomed.id });

    const left = await everything(client);
    for (const marker of [secret, edited, reactor]) expect(left).not.toContain(marker);
    expect((await client.xInfoStream(stream))['last-generated-id']).toBe(lastId);
    const tombstone = { id: doomed.id, at: doomed.at, deleted: true };
    const all = [...before, tombstone, ...after];
    expect(await store.recent(DEFAULT_ROOM, 10)).toEqual(all);
    expect(await store.read(DEFAULT_ROOM, { limit: 10 })).toEqual({ messages: all, complete: true, more: false });
    expect(await store.read(DEFAULT_ROOM, { since: before[1]!.id, limit: 10 })).toEqual({ messages: all.slice(2), complete: true, more: false });
    expect(await store.read(DEFAULT_ROOM, { since: doomed.id, limit: 10 })).toEqual({ messages: after, complete: true, more: false });
    expect(await store.read(DEFAULT_ROOM, { before: after[0]!.id, limit: 2 })).toEqual({ messages: [before[1], tombstone], complete: true, more: true });

    // A tombstone is no message any more.
    expect(await change(store, DEFAULT_ROOM, { kind: 'delete', id: doomed.id, by: 'any' })).toBe('not_found');
    expect(await change(store, DEFAULT_ROOM, { kind: 'edit', id: doomed.id, text: 'back', by: 'any', at: 8 })).toBe('not_found');
    expect(await change(store, DEFAULT_ROOM, { kind: 'react', id: doomed.id, emoji: 'x', user: 'u3', on: true })).toBe('not_found');
    expect(await change(store, DEFAULT_ROOM, { kind: 'read', id: doomed.id, user: 'u3' })).toBe('not_found');
    // The stream goes on after it.
    const next = await append(store, DEFAULT_ROOM, 'six');
    expect(await store.recent(DEFAULT_ROOM, 2)).toEqual([after[1], next]);
  });

  it('counts reactions per emoji, one per user, taken back on request, at most 20 distinct emoji per message', async () => {
    const { store } = await openStore(redis.url);
    const [message] = await appendAll(store, 'r', ['react to me']);
    const id = message!.id;
    const react = (user: string, emoji: string, on = true) => change(store, 'r', { kind: 'react', id, user, emoji, on });
    expect(await react('u1', '\ud83d\udc4d')).toEqual({ kind: 'reaction', id, emoji: '\ud83d\udc4d', count: 1 });
    expect(await react('u2', '\ud83d\udc4d')).toMatchObject({ count: 2 });
    expect(await react('u1', '\ud83d\udc4d')).toMatchObject({ count: 2 });
    expect(await react('u2', '\u2764\ufe0f')).toMatchObject({ count: 1 });
    expect(await store.recent('r', 1)).toEqual([{ ...message, reactions: { '\ud83d\udc4d': 2, '\u2764\ufe0f': 1 } }]);
    expect(await react('u1', '\ud83d\udc4d', false)).toMatchObject({ count: 1 });
    expect(await react('u1', '\ud83d\udc4d', false)).toMatchObject({ count: 1 });
    expect(await react('u2', '\ud83d\udc4d', false)).toMatchObject({ count: 0 });
    expect(await react('u2', 'never', false)).toMatchObject({ count: 0 });
    expect(await store.read('r', { limit: 1 })).toEqual({ messages: [{ ...message, reactions: { '\u2764\ufe0f': 1 } }], complete: true, more: false });
    expect(await react('u2', '\u2764\ufe0f', false)).toMatchObject({ count: 0 });
    expect('reactions' in (await store.recent('r', 1))[0]!).toBe(false);

    // Emoji that look like numbers, JSON or Lua patterns are emoji like any other.
    const emoji = ['1', '{}', '[]', '%d', '"', ...Array.from({ length: 15 }, (_, i) => String.fromCodePoint(0x1f600 + i))];
    for (const e of emoji) expect(await react('u1', e)).toMatchObject({ count: 1 });
    expect(await react('u2', '\ud83d\ude80')).toBe('too_many_reactions');
    expect(await react('u2', '1')).toMatchObject({ count: 2 });
    expect(await react('u1', '%d', false)).toMatchObject({ count: 0 });
    expect(await react('u2', '\ud83d\ude80')).toMatchObject({ count: 1 });
    const counts = (await store.recent('r', 1))[0] as ChatMessage;
    expect(Object.keys(counts.reactions!)).toHaveLength(20);
    expect(counts.reactions).toMatchObject({ '1': 2, '{}': 1, '"': 1, '\ud83d\ude80': 1 });
    expect(await change(store, 'r', { kind: 'react', id: '1-1', user: 'u1', emoji: 'x', on: true })).toBe('not_found');
  });

  it('pages back through 1000 messages, 100 at a time, with nothing missing or repeated', async () => {
    const { store } = await openStore(redis.url);
    const texts = Array.from({ length: 1000 }, (_, i) => `message ${i}`);
    const sent = await appendAll(store, 'long', texts);
    expect(sent.map((m) => m.text)).toEqual(texts);
    // A tombstone and an edit on the way: pages show messages as they are now.
    expect(await change(store, 'long', { kind: 'delete', id: sent[250]!.id, by: 'any' })).toMatchObject({ kind: 'delete' });
    expect(await change(store, 'long', { kind: 'edit', id: sent[700]!.id, text: 'edited 700', by: 'any', at: 1 })).toMatchObject({ version: 1 });

    const pages: HistoryMessage[][] = [];
    let page = await store.read('long', { limit: 100 });
    for (;;) {
      expect(page.messages).toHaveLength(100);
      pages.push(page.messages);
      if (!page.more) break;
      page = await store.read('long', { before: page.messages[0]!.id, limit: 100 });
    }
    expect(pages).toHaveLength(10);
    const seen = pages.reverse().flat();
    expect(seen.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    expect(seen[250]).toEqual({ id: sent[250]!.id, at: sent[250]!.at, deleted: true });
    expect(textOf(seen[700])).toBe('edited 700');
    expect(seen.filter((_m, i) => i !== 250 && i !== 700).map(textOf)).toEqual(texts.filter((_, i) => i !== 250 && i !== 700));

    // Bounds: an id not stored, nothing before the first, and a byte budget.
    const [ms, seq] = idParts(sent[999]!.id)!;
    expect(await store.read('long', { before: `${ms}-${seq + 1}`, limit: 1 })).toEqual({ messages: [sent[999]], complete: true, more: true });
    expect(await store.read('long', { before: sent[0]!.id, limit: 10 })).toEqual({ messages: [], complete: true, more: false });
    expect(await store.read('long', { before: '0-0', limit: 10 })).toEqual({ messages: [], complete: true, more: false });
    const small = await store.read('long', { before: sent[100]!.id, limit: 100, maxBytes: 300 });
    expect(small.more).toBe(true);
    expect(small.messages.length).toBeGreaterThan(0);
    expect(small.messages.length).toBeLessThan(10);
    expect(small.messages.at(-1)).toEqual(sent[99]);
  });

  it('moves read markers forward only, and lists a user’s rooms with what is unread in each', async () => {
    const { client, store } = await openStore(redis.url, 10_000, 3);
    const lobby = await appendAll(store, DEFAULT_ROOM, ['l0', 'l1', 'l2', 'l3']);
    const n = await appendAll(store, 'n', ['n0', 'n1', 'n2']);
    const m = await appendAll(store, 'm', ['m0', 'm1']);
    const read = (room: string, id: string, user = 'u1') => change(store, room, { kind: 'read', id, user });

    expect(await store.userRooms('u1', 10)).toEqual([]);
    expect(await read(DEFAULT_ROOM, lobby[1]!.id)).toEqual({ kind: 'read', id: lobby[1]!.id, user: 'u1' });
    expect(await read(DEFAULT_ROOM, lobby[0]!.id)).toEqual({ kind: 'read', id: lobby[1]!.id, user: 'u1' });
    expect(await read(DEFAULT_ROOM, lobby[1]!.id)).toEqual({ kind: 'read', id: lobby[1]!.id, user: 'u1' });
    expect(await read('n', n[0]!.id)).toMatchObject({ id: n[0]!.id });
    expect(await read('m', m[1]!.id)).toMatchObject({ id: m[1]!.id });
    expect(await read('m', '1-1')).toBe('not_found');
    // An id of another room is no message of this one.
    expect(await read('m', n[2]!.id)).toBe('not_found');
    expect(await read('n', n[1]!.id, 'u2')).toMatchObject({ id: n[1]!.id, user: 'u2' });

    expect(await store.userRooms('u1', 10)).toEqual([
      { name: DEFAULT_ROOM, lastId: lobby[3]!.id, lastReadId: lobby[1]!.id, unread: 2 },
      { name: 'm', lastId: m[1]!.id, lastReadId: m[1]!.id, unread: 0 },
      { name: 'n', lastId: n[2]!.id, lastReadId: n[0]!.id, unread: 2 },
    ]);
    expect(await store.userRooms('u1', 2)).toHaveLength(2);
    expect(await store.userRooms('u2', 10)).toEqual([{ name: 'n', lastId: n[2]!.id, lastReadId: n[1]!.id, unread: 1 }]);

    // Tombstones are not unread; a deleted id is no place for a marker.
    expect(await change(store, DEFAULT_ROOM, { kind: 'delete', id: lobby[3]!.id, by: 'any' })).toMatchObject({ kind: 'delete' });
    expect(await read(DEFAULT_ROOM, lobby[3]!.id)).toBe('not_found');
    expect((await store.userRooms('u1', 10))[0]).toEqual({ name: DEFAULT_ROOM, lastId: lobby[3]!.id, lastReadId: lobby[1]!.id, unread: 1 });
    expect(await read(DEFAULT_ROOM, lobby[2]!.id)).toMatchObject({ id: lobby[2]!.id });
    expect((await store.userRooms('u1', 10))[0]).toMatchObject({ lastReadId: lobby[2]!.id, unread: 0 });

    expect(await store.userRooms('u1', 1)).toEqual([{ name: DEFAULT_ROOM, lastId: lobby[3]!.id, lastReadId: lobby[2]!.id, unread: 0 }]);

    // A fourth room past MAX_STORED_ROOMS=3 makes the idlest go, with its edits and
    // reactions: the lobby, whose newest message is oldest (or, sent in the same
    // millisecond, whose name comes first).
    await change(store, DEFAULT_ROOM, { kind: 'edit', id: lobby[0]!.id, text: 'l0 again', by: 'any', at: 1 });
    await change(store, DEFAULT_ROOM, { kind: 'react', id: lobby[0]!.id, emoji: 'x', user: 'u1', on: true });
    const lobbyKeys = Object.values(roomKeys(DEFAULT_ROOM));
    expect(await client.exists(lobbyKeys)).toBe(3);
    await append(store, 'o', 'o0');
    expect(await client.exists(lobbyKeys)).toBe(0);
    expect((await store.userRooms('u1', 10)).map((room) => room.name)).toEqual(['m', 'n']);
    expect(await store.userRooms('u1', 1)).toEqual([{ name: 'm', lastId: m[1]!.id, lastReadId: m[1]!.id, unread: 0 }]);
    expect(await client.hGetAll(readsKey('u1'))).toEqual({ m: m[1]!.id, n: n[0]!.id });
  });

  it('keeps its side hashes bounded when HISTORY_KEEP trims the messages they describe', async () => {
    const keep = 3;
    const { client, store } = await openStore(redis.url, keep);
    const { changes, reactions } = roomKeys('t');
    let largest = 0;
    for (let i = 0; i < 30; i += 1) {
      const message = await append(store, 't', `m${i}`);
      expect(await change(store, 't', { kind: 'edit', id: message.id, text: `e${i}`, by: 'any', at: i })).toMatchObject({ version: 1 });
      expect(await change(store, 't', { kind: 'react', id: message.id, emoji: 'x', user: 'u', on: true })).toMatchObject({ count: 1 });
      largest = Math.max(largest, await client.hLen(changes), await client.hLen(reactions));
    }
    expect(largest).toBeGreaterThan(keep);
    expect(largest).toBeLessThanOrEqual(2 * keep + 1);
    expect((await store.recent('t', 10)).map(textOf)).toEqual(['e27', 'e28', 'e29']);
  });

  it('shows the same state to a store opened afresh on a new connection', async () => {
    const first = await openStore(redis.url);
    const [x, y, z] = await appendAll(first.store, 'keep', ['x', 'y', 'z'], 'u1');
    await change(first.store, 'keep', { kind: 'edit', id: x!.id, text: 'x2', by: { user: 'u1' }, at: 11 });
    await change(first.store, 'keep', { kind: 'delete', id: y!.id, by: { user: 'u1' } });
    await change(first.store, 'keep', { kind: 'react', id: z!.id, emoji: 'ok', user: 'u2', on: true });
    await change(first.store, 'keep', { kind: 'read', id: x!.id, user: 'u2' });
    const before = { recent: await first.store.recent('keep', 10), rooms: await first.store.userRooms('u2', 10) };
    first.client.destroy();

    const second = await openStore(redis.url);
    expect(await second.store.recent('keep', 10)).toEqual([
      { ...x, text: 'x2', version: 1, editedAt: 11 },
      { id: y!.id, at: y!.at, deleted: true },
      { ...z, reactions: { ok: 1 } },
    ]);
    expect({ recent: await second.store.recent('keep', 10), rooms: await second.store.userRooms('u2', 10) }).toEqual(before);
    expect(before.rooms).toEqual([{ name: 'keep', lastId: z!.id, lastReadId: x!.id, unread: 1 }]);
    expect(await second.store.read('keep', { since: x!.id, limit: 10 })).toMatchObject({ complete: true, messages: before.recent.slice(1) });
    expect(await change(second.store, 'keep', { kind: 'edit', id: x!.id, text: 'x3', by: { user: 'u1' }, at: 12 })).toMatchObject({ version: 2 });
  });

  it('stores a turn’s messages, of several rooms, in one command (at most 100 to a command), each in its room under an id in the order given', async () => {
    const { client, store } = await openStore(redis.url);
    await client.configResetStat();
    const rooms = ['p', 'q', DEFAULT_ROOM];
    const texts = Array.from({ length: 150 }, (_, i) => `m${i}`);
    // Asked in one turn: nothing is awaited between them.
    const stored = await Promise.all(texts.map((text, i) => append(store, rooms[i % 3] as string, text, i % 2 === 0 ? 'u1' : undefined)));
    const evals = /cmdstat_eval:calls=(\d+)/.exec(await client.info('commandstats'));
    expect(Number(evals?.[1])).toBe(2);
    for (let i = 1; i < stored.length; i += 1) expect(compareIds(stored[i]!.id, stored[i - 1]!.id)).toBeGreaterThan(0);
    for (const [r, room] of rooms.entries()) {
      const expected = stored.filter((_, i) => i % 3 === r);
      expect(await store.recent(room, 100)).toEqual(expected);
    }
    expect(stored[0]).toMatchObject({ text: 'm0', name: 'ann', user: 'u1' });
    expect(stored[1]).not.toHaveProperty('user');
  });

  it('answers changes in order with the appends asked before them, an edit of a message just appended included', async () => {
    const { client, store } = await openStore(redis.url);
    const [earlier] = await appendAll(store, 'p', ['earlier']);
    const log: string[] = [];
    // Noted as the store answers, not a promise's turn later.
    const logged = (what: MessageChange, label: string) =>
      new Promise<ChangeOutcome>((resolve) =>
        store.change('p', what, (outcome) => {
          log.push(label);
          resolve(outcome);
        }),
      );
    const edits: Promise<ChangeOutcome>[] = [];
    const appends = Array.from(
      { length: 20 },
      (_, i) =>
        new Promise<void>((resolve) =>
          store.append(
            'p',
            'ann',
            `m${i}`,
            (err, message) => {
              log.push(`append ${i}`);
              // Asked at once, before the appends after this one are answered.
              if (err === null && message !== null)
                edits.push(logged({ kind: 'edit', id: message.id, text: `e${i}`, by: { user: 'u1' }, at: i }, `edit ${i}`));
              resolve();
            },
            'u1',
          ),
        ),
    );
    // Asked after the 20 appends, not awaited: answered after them.
    const early = logged({ kind: 'edit', id: earlier!.id, text: 'earlier, edited', by: 'any', at: 1 }, 'edit earlier');
    await Promise.all(appends);
    const outcomes = await Promise.all([early, ...edits]);
    expect(outcomes.every((outcome) => typeof outcome === 'object' && !(outcome instanceof StoreUnavailableError))).toBe(true);
    const indexes = Array.from({ length: 20 }, (_, i) => i);
    expect(log).toEqual([...indexes.map((i) => `append ${i}`), 'edit earlier', ...indexes.map((i) => `edit ${i}`)]);
    expect((await store.recent('p', 21)).map(textOf)).toEqual(['earlier, edited', ...indexes.map((i) => `e${i}`)]);
    expect(await client.hLen(roomKeys('p').changes)).toBe(21);
  });

  it('refuses changes as unavailable while Redis is down, and stamps messages with a local id', async () => {
    const own = await startRedis();
    const { store } = await openStore(own.url);
    const stored = await append(store, 'o', 'before the outage', 'u1');
    await own.stop();
    const outcome = await change(store, 'o', { kind: 'edit', id: stored.id, text: 'during', by: 'any', at: 1 });
    expect(outcome).toBeInstanceOf(StoreUnavailableError);
    expect(await change(store, 'o', { kind: 'read', id: stored.id, user: 'u1' })).toBeInstanceOf(StoreUnavailableError);
    const local = await append(store, 'o', 'during the outage', 'u1');
    expect(idParts(local.id)![1]).toBeGreaterThanOrEqual(2 ** 32);
    expect(local).toMatchObject({ text: 'during the outage', user: 'u1' });
  });

  it('keeps read markers per user, in a hash named after the user', async () => {
    const { client, store } = await openStore(redis.url);
    const [m] = await appendAll(store, 'k', ['k0']);
    await change(store, 'k', { kind: 'read', id: m!.id, user: 'someone:with:colons' });
    expect(await client.hGetAll(readsKey('someone:with:colons'))).toEqual({ k: m!.id });
  });
});
