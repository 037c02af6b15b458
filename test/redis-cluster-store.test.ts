import calculateSlot from 'cluster-key-slot';
import pino from 'pino';
import { createCluster } from 'redis';
import { isDeleted, type ChatMessage, type HistoryMessage } from '../server/protocol';
import { compareIds, idParts } from '../server/store/message-id';
import { CLUSTER_KEYS } from '../server/store/redis/keys';
import { RedisStore } from '../server/store/redis-store';
import type { RedisClusterProcess } from '../tools/redis-cluster-process';
import { onCleanup } from './support/cleanup';
import { append, appendAll, change } from './support/store-calls';
import { describeWithRedisCluster, startRedisCluster } from './support/redis-cluster';
import { waitUntil } from './support/wait';

// A three-master cluster for the file: a few seconds to start.
jest.setTimeout(60_000);

const logger = pino({ level: 'silent' });

/** A cluster client as the server's history connection is (server/cluster/redis-connections.ts), destroyed at cleanup. */
async function connectCluster(url: string) {
  const client = createCluster({ rootNodes: [{ url }], defaults: { disableOfflineQueue: true }, commandOptions: { timeout: 0 } });
  client.on('error', () => undefined);
  await client.connect();
  onCleanup('clients', () => client.destroy());
  return client;
}
type Cluster = Awaited<ReturnType<typeof connectCluster>>;

/** A store on a connection of its own, with the cluster's key layout: what a node of the chat opens. */
async function openStore(url: string, keep = 10_000, maxRooms = 0) {
  const client = await connectCluster(url);
  return { client, store: new RedisStore(client, keep, maxRooms, logger, undefined, CLUSTER_KEYS) };
}





/** The master that holds `room`'s keys, as the cluster itself says. */
const masterOf = (client: Cluster, room: string) => client.getSlotMaster(calculateSlot(room)).address;

/** A room whose keys share a slot (so an ids stream) with `room`'s. */
function roomInSlotOf(room: string, prefix: string): string {
  for (let n = 0; ; n += 1) if (calculateSlot(`${prefix}-${n}`) === calculateSlot(room)) return `${prefix}-${n}`;
}

/** Until the clock has passed `at`: the next message is sent in a later millisecond. */
const clockPast = (at: number) => waitUntil(() => Date.now() > at, `the clock to pass ${at}`);

const textOf = (message: HistoryMessage | undefined) => (message === undefined || isDeleted(message) ? undefined : message.text);

describeWithRedisCluster('the Redis store on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  // One cluster for the file, never flushed: each test has rooms (and users) of its own.
  // The room sets are shared, so the listing tests name rooms no other test uses.
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  it('keeps messages of rooms on every master in order, with ids unique across rooms and increasing within each', async () => {
    const { client, store } = await openStore(cluster.url);
    // alpha, lobby and beta are on the three masters; the fourth room shares alpha's slot,
    // so alpha's ids stream.
    expect(calculateSlot('alpha')).toBe(865);
    expect(calculateSlot('lobby')).toBe(10294);
    expect(calculateSlot('beta')).toBe(15419);
    const rooms = ['alpha', 'lobby', 'beta', roomInSlotOf('alpha', 'ordered')];
    expect(new Set(rooms.map((room) => masterOf(client, room))).size).toBe(3);

    // Every room at once: messages of one slot's two rooms in the same milliseconds.
    const texts = (room: string) => Array.from({ length: 30 }, (_, i) => `${room} ${i}`);
    const sent = await Promise.all(rooms.map((room, i) => appendAll(store, room, texts(room), i % 2 === 0 ? 'u1' : undefined)));
    const ids = sent.flat().map((message) => message.id);
    expect(new Set(ids).size).toBe(120);

    for (const [i, room] of rooms.entries()) {
      const own = sent[i]!;
      expect(own.map((message) => message.text)).toEqual(texts(room));
      expect(own.every((message, n) => n === 0 || compareIds(own[n - 1]!.id, message.id) < 0)).toBe(true);
      // As the room reads them back: its own messages, nothing of the others.
      expect(await store.recent(room, 100)).toEqual(own);
      expect(await store.recent(room, 5)).toEqual(own.slice(25));

      expect(await store.read(room, { since: own[9]!.id, limit: 10 })).toEqual({ messages: own.slice(10, 20), complete: true, more: true });
      expect(await store.read(room, { since: own[24]!.id, limit: 10 })).toEqual({ messages: own.slice(25), complete: true, more: false });
      expect(await store.read(room, { since: own[29]!.id, limit: 10 })).toEqual({ messages: [], complete: true, more: false });

      // Back from the newest, 7 at a time, with nothing missing or repeated.
      const pages: HistoryMessage[][] = [];
      let page = await store.read(room, { limit: 7 });
      pages.push(page.messages);
      while (page.more) {
        page = await store.read(room, { before: page.messages[0]!.id, limit: 7 });
        pages.push(page.messages);
      }
      expect(pages.map((messages) => messages.length)).toEqual([7, 7, 7, 7, 2]);
      expect(pages.reverse().flat()).toEqual(own);
    }

    // An id of another room is not stored in this one: what follows it may be missing.
    const [alpha, lobby] = sent as [ChatMessage[], ChatMessage[]];
    expect(await store.read('lobby', { since: alpha[0]!.id, limit: 100 })).toMatchObject({ complete: false });
    expect(await store.read('lobby', { since: lobby[0]!.id, limit: 100 })).toMatchObject({ complete: true, messages: lobby.slice(1) });

    // A store on another connection (another node) reads the same.
    const other = await openStore(cluster.url);
    for (const [i, room] of rooms.entries()) expect(await other.store.recent(room, 100)).toEqual(sent[i]);
  });

  it('stores a turn’s messages of one room in one command on its master, and each room’s in one of its own', async () => {
    const { client, store } = await openStore(cluster.url);
    // Rooms away from the room sets' master, whose listing scripts are counted apart.
    const away = (prefix: string) => {
      for (let n = 0; ; n += 1) if (masterOf(client, `${prefix}-${n}`) !== masterOf(client, 'rooms')) return `${prefix}-${n}`;
    };
    const rooms = [away('turn-a'), away('turn-b')];
    const evalsOn = async (address: string) => {
      const master = client.masters.find((m) => m.address === address)!;
      return Number(/cmdstat_eval:calls=(\d+)/.exec(await (await client.nodeClient(master)).info('commandstats'))?.[1] ?? 0);
    };
    for (const master of client.masters) await (await client.nodeClient(master)).configResetStat();
    // Asked in one turn: nothing is awaited between them.
    const stored = await Promise.all(Array.from({ length: 20 }, (_, i) => append(store, rooms[i % 2] as string, `m${i}`)));
    for (const address of new Set(rooms.map((room) => masterOf(client, room)))) {
      expect(await evalsOn(address)).toBe(rooms.filter((room) => masterOf(client, room) === address).length);
    }
    for (const [r, room] of rooms.entries()) expect(await store.recent(room, 20)).toEqual(stored.filter((_, i) => i % 2 === r));
  });

  it('stores every message sent while its room’s slot moves between masters, in the order sent, new rooms included', async () => {
    const { store } = await openStore(cluster.url);
    const rooms = ['moving-0', roomInSlotOf('moving-0', 'moving-a'), roomInSlotOf('moving-0', 'moving-b')];
    const answered = new Map<string, ChatMessage[]>(rooms.map((room) => [room, []]));
    let sent = 0;
    let settled = 0;
    // A message to each room every 2 ms while the slot goes around the masters, one key at
    // a time: an append of a key moved and a key not yet moved is answered TRYAGAIN.
    const sending = setInterval(() => {
      for (const room of rooms) {
        sent += 1;
        void append(store, room, `m${sent}`).then((message) => {
          answered.get(room)!.push(message);
          settled += 1;
        });
      }
    }, 2);
    try {
      for (const to of [1, 2, 0, 1]) await cluster.moveSlot(calculateSlot('moving-0'), to, 1);
    } finally {
      clearInterval(sending);
    }
    await waitUntil(() => settled === sent, 'every append answered');
    for (const room of rooms) {
      const messages = answered.get(room)!;
      // Stored, not stamped locally as in an outage (whose ids have a sequence of 2^32 or more).
      expect(messages.filter((message) => idParts(message.id)![1] >= 2 ** 32)).toEqual([]);
      for (let i = 1; i < messages.length; i += 1) expect(compareIds(messages[i]!.id, messages[i - 1]!.id)).toBeGreaterThan(0);
      expect(await store.recent(room, messages.length + 1)).toEqual(messages);
    }
  });

  it('lets only the author edit and delete, counts reactions, and reads back edits, reactions and tombstones', async () => {
    const { client, store } = await openStore(cluster.url);
    expect(masterOf(client, 'news')).not.toBe(masterOf(client, 'edits'));
    const [mine, doomed, theirs] = [
      await append(store, 'edits', 'first', 'u1'),
      await append(store, 'edits', 'to be deleted', 'u1'),
      await append(store, 'edits', 'by u2', 'u2', 'bo'),
    ];
    const [news] = await appendAll(store, 'news', ['news 0'], 'u1');

    const edit = (room: string, id: string, text: string, user: string, at: number) => change(store, room, { kind: 'edit', id, text, by: { user }, at });
    expect(await edit('edits', mine.id, 'not yours', 'u2', 100)).toBe('forbidden');
    expect(await edit('edits', mine.id, 'second', 'u1', 101)).toEqual({ kind: 'edit', id: mine.id, text: 'second', version: 1, editedAt: 101 });
    expect(await edit('edits', mine.id, 'third', 'u1', 102)).toEqual({ kind: 'edit', id: mine.id, text: 'third', version: 2, editedAt: 102 });
    expect(await change(store, 'edits', { kind: 'edit', id: theirs.id, text: 'nobody', by: 'none', at: 103 })).toBe('forbidden');
    // A message of another room (on another master) is not found in this one.
    expect(await edit('news', mine.id, 'elsewhere', 'u1', 104)).toBe('not_found');
    expect(await edit('edits', news!.id, 'elsewhere', 'u1', 104)).toBe('not_found');

    const react = (user: string, emoji: string, on = true, id = theirs.id) => change(store, 'edits', { kind: 'react', id, user, emoji, on });
    expect(await react('u1', '\ud83d\udc4d')).toEqual({ kind: 'reaction', id: theirs.id, emoji: '\ud83d\udc4d', count: 1 });
    expect(await react('u3', '\ud83d\udc4d')).toMatchObject({ count: 2 });
    expect(await react('u1', '\ud83d\udc4d')).toMatchObject({ count: 2 });
    expect(await react('u3', '\u2764\ufe0f')).toMatchObject({ count: 1 });
    expect(await react('u3', '\ud83d\udc4d', false)).toMatchObject({ count: 1 });
    expect(await react('u2', 'x', true, doomed.id)).toMatchObject({ count: 1 });

    const remove = (id: string, user: string) => change(store, 'edits', { kind: 'delete', id, by: { user } });
    expect(await remove(doomed.id, 'u2')).toBe('forbidden');
    expect(await remove(doomed.id, 'u1')).toEqual({ kind: 'delete', id: doomed.id });
    // A tombstone is no message any more.
    expect(await remove(doomed.id, 'u1')).toBe('not_found');
    expect(await edit('edits', doomed.id, 'back', 'u1', 105)).toBe('not_found');
    expect(await react('u2', 'y', true, doomed.id)).toBe('not_found');

    const now = [
      { ...mine, text: 'third', version: 2, editedAt: 102 },
      { id: doomed.id, at: doomed.at, deleted: true },
      { ...theirs, reactions: { '\ud83d\udc4d': 1, '\u2764\ufe0f': 1 } },
    ];
    const recent = await store.recent('edits', 10);
    expect(recent).toEqual(now);
    expect(recent.map((message) => isDeleted(message))).toEqual([false, true, false]);
    expect(await store.read('edits', { since: mine.id, limit: 10 })).toEqual({ messages: now.slice(1), complete: true, more: false });
    expect(await store.read('edits', { before: theirs.id, limit: 1 })).toEqual({ messages: [now[1]], complete: true, more: true });
    expect(await store.recent('news', 10)).toEqual([news]);

    // The same state from a store on another connection, and the stream goes on after it.
    const other = await openStore(cluster.url);
    expect(await other.store.recent('edits', 10)).toEqual(now);
    const next = await append(other.store, 'edits', 'after', 'u1');
    expect((await store.recent('edits', 10)).map(textOf)).toEqual(['third', undefined, 'by u2', 'after']);
    expect(compareIds(theirs.id, next.id)).toBeLessThan(0);
  });

  it('moves read markers forward only, and lists a user’s rooms on every master with what is unread in each', async () => {
    const { client, store } = await openStore(cluster.url);
    const rooms = ['north', 'south', 'east'];
    expect(new Set(rooms.map((room) => masterOf(client, room))).size).toBe(3);
    const north = await appendAll(store, 'north', ['n0', 'n1', 'n2', 'n3']);
    const south = await appendAll(store, 'south', ['s0', 's1', 's2']);
    const east = await appendAll(store, 'east', ['e0', 'e1']);
    const read = (room: string, id: string, user = 'reader') => change(store, room, { kind: 'read', id, user });

    expect(await store.userRooms('reader', 10)).toEqual([]);
    expect(await read('north', north[1]!.id)).toEqual({ kind: 'read', id: north[1]!.id, user: 'reader' });
    // An older id leaves the marker where it is; the same one too.
    expect(await read('north', north[0]!.id)).toEqual({ kind: 'read', id: north[1]!.id, user: 'reader' });
    expect(await read('north', north[1]!.id)).toEqual({ kind: 'read', id: north[1]!.id, user: 'reader' });
    expect(await read('south', south[0]!.id)).toMatchObject({ id: south[0]!.id });
    expect(await read('east', east[1]!.id)).toMatchObject({ id: east[1]!.id });
    expect(await read('east', '1-1')).toBe('not_found');
    expect(await read('east', north[3]!.id)).toBe('not_found');
    expect(await read('south', south[1]!.id, 'someone else')).toMatchObject({ id: south[1]!.id, user: 'someone else' });

    expect(await store.userRooms('reader', 10)).toEqual([
      { name: 'east', lastId: east[1]!.id, lastReadId: east[1]!.id, unread: 0 },
      { name: 'north', lastId: north[3]!.id, lastReadId: north[1]!.id, unread: 2 },
      { name: 'south', lastId: south[2]!.id, lastReadId: south[0]!.id, unread: 2 },
    ]);
    expect((await store.userRooms('reader', 2)).map((room) => room.name)).toEqual(['east', 'north']);
    expect(await store.userRooms('someone else', 10)).toEqual([{ name: 'south', lastId: south[2]!.id, lastReadId: south[1]!.id, unread: 1 }]);

    // A new message is unread; a deleted one is not, and is no place for a marker.
    const e2 = await append(store, 'east', 'e2');
    expect(await change(store, 'north', { kind: 'delete', id: north[3]!.id, by: 'any' })).toEqual({ kind: 'delete', id: north[3]!.id });
    expect(await read('north', north[3]!.id)).toBe('not_found');
    expect(await store.userRooms('reader', 10)).toEqual([
      { name: 'east', lastId: e2.id, lastReadId: east[1]!.id, unread: 1 },
      { name: 'north', lastId: north[3]!.id, lastReadId: north[1]!.id, unread: 1 },
      { name: 'south', lastId: south[2]!.id, lastReadId: south[0]!.id, unread: 2 },
    ]);
    expect(await read('south', south[2]!.id)).toMatchObject({ id: south[2]!.id });
    expect(await read('south', south[1]!.id)).toMatchObject({ id: south[2]!.id });
    // As another node sees them.
    const other = await openStore(cluster.url);
    expect((await other.store.userRooms('reader', 10)).map(({ name, unread }) => [name, unread])).toEqual([
      ['east', 1],
      ['north', 1],
      ['south', 0],
    ]);
  });

  it('lists rooms by name with their newest message’s time, a second message within the same second included', async () => {
    // Named before every other test's rooms: the listing's first page is theirs alone.
    const rooms = ['aa-four', 'aa-one', 'aa-two'];
    const { client, store } = await openStore(cluster.url);
    expect(new Set(rooms.map((room) => masterOf(client, room))).size).toBe(3);
    const two = await append(store, 'aa-two', 'two');
    const four = await append(store, 'aa-four', 'four');
    const first = await append(store, 'aa-one', 'one');
    expect(await store.rooms({ limit: 3 })).toEqual([
      { name: 'aa-four', lastMessageAt: four.at },
      { name: 'aa-one', lastMessageAt: first.at },
      { name: 'aa-two', lastMessageAt: two.at },
    ]);

    // Within the second that aa-one was last moved up in (this store's first), so the room
    // sets still hold its first time: the listing's time comes from the room itself.
    await clockPast(first.at);
    const second = await append(store, 'aa-one', 'one again');
    expect(second.at).toBeGreaterThan(first.at);
    const listed = [
      { name: 'aa-four', lastMessageAt: four.at },
      { name: 'aa-one', lastMessageAt: second.at },
      { name: 'aa-two', lastMessageAt: two.at },
    ];
    expect(await store.rooms({ limit: 3 })).toEqual(listed);
    expect(await store.rooms({ limit: 2 })).toEqual(listed.slice(0, 2));
    expect(await store.rooms({ after: 'aa-four', limit: 2 })).toEqual(listed.slice(1));
    expect(await store.rooms({ after: 'aa-one', limit: 1 })).toEqual(listed.slice(2));
    // A name between two rooms' is a place to start too.
    expect(await store.rooms({ after: 'aa-o', limit: 1 })).toEqual(listed.slice(1, 2));
    // Another node's store lists the same.
    const other = await openStore(cluster.url);
    expect(await other.store.rooms({ limit: 3 })).toEqual(listed);

    // Deleting the newest message leaves its time: a tombstone keeps it.
    expect(await change(store, 'aa-one', { kind: 'delete', id: second.id, by: 'any' })).toMatchObject({ kind: 'delete' });
    expect(await store.rooms({ after: 'aa-four', limit: 1 })).toEqual([{ name: 'aa-one', lastMessageAt: second.at }]);
  });

  it('past MAX_STORED_ROOMS lets the idlest room go, its keys deleted, and keeps the others', async () => {
    const { client, store } = await openStore(cluster.url, 10_000, 2);
    const rooms = ['evict-a', 'evict-b', 'evict-c'];
    expect(new Set(rooms.map((room) => masterOf(client, room))).size).toBe(3);
    // evict-b first: the idlest by time, not by name.
    const b = await append(store, 'evict-b', 'b0', 'u1');
    await clockPast(b.at);
    const a = await append(store, 'evict-a', 'a0', 'u1');
    // Its edits and reactions are kept beside it, and go with it.
    expect(await change(store, 'evict-b', { kind: 'edit', id: b.id, text: 'b0 edited', by: 'any', at: 1 })).toMatchObject({ version: 1 });
    expect(await change(store, 'evict-b', { kind: 'react', id: b.id, emoji: 'x', user: 'u2', on: true })).toMatchObject({ count: 1 });
    expect(await change(store, 'evict-b', { kind: 'read', id: b.id, user: 'evict-reader' })).toMatchObject({ id: b.id });
    const { stream, changes, reactions } = CLUSTER_KEYS.room('evict-b');
    expect(await client.exists([stream, changes, reactions])).toBe(3);
    expect(await store.rooms({ limit: 10 })).toEqual([
      { name: 'evict-a', lastMessageAt: a.at },
      { name: 'evict-b', lastMessageAt: b.at },
    ]);

    await clockPast(a.at);
    const c = await append(store, 'evict-c', 'c0', 'u1');
    await waitUntil(async () => (await client.exists(stream)) === 0, 'the idlest room’s stream to be deleted');
    await waitUntil(async () => (await client.exists([changes, reactions])) === 0, 'the idlest room’s edits and reactions to be deleted');
    expect(await store.rooms({ limit: 10 })).toEqual([
      { name: 'evict-a', lastMessageAt: a.at },
      { name: 'evict-c', lastMessageAt: c.at },
    ]);
    expect(await store.recent('evict-b', 10)).toEqual([]);
    expect(await store.userRooms('evict-reader', 10)).toEqual([]);
    for (const [room, message] of [['evict-a', a], ['evict-c', c]] as const) {
      expect(await client.exists(CLUSTER_KEYS.room(room).stream)).toBe(1);
      expect(await store.recent(room, 10)).toEqual([message]);
    }
  });

  it('lists again a room that came back after another node let it go', async () => {
    const one = await openStore(cluster.url, 10_000, 2);
    const two = await openStore(cluster.url, 10_000, 2);
    const x = await append(one.store, 'cross-x', 'x0');
    await clockPast(x.at);
    const y = await append(two.store, 'cross-y', 'y0');
    await clockPast(y.at);
    const z = await append(two.store, 'cross-z', 'z0');
    await waitUntil(async () => (await one.client.exists(CLUSTER_KEYS.room('cross-x').stream)) === 0, 'cross-x to go');
    const again = await append(one.store, 'cross-x', 'x1');
    expect(await one.store.recent('cross-x', 10)).toEqual([again]);
    await waitUntil(async () => (await one.store.rooms({ limit: 10 })).some((room) => room.name === 'cross-x'), 'cross-x listed again', 2_000);
    expect(await one.store.rooms({ limit: 10 })).toEqual([
      { name: 'cross-x', lastMessageAt: again.at },
      { name: 'cross-z', lastMessageAt: z.at },
    ]);
  });

  it('lists again a room that came back after it was let go', async () => {
    const { client, store } = await openStore(cluster.url, 10_000, 2);
    const b = await append(store, 'back-b', 'b0');
    await clockPast(b.at);
    const a = await append(store, 'back-a', 'a0');
    await clockPast(a.at);
    const c = await append(store, 'back-c', 'c0');
    await waitUntil(async () => (await client.exists(CLUSTER_KEYS.room('back-b').stream)) === 0, 'back-b to go');
    // back-b gets a message again, within the second: a room with a stored message.
    const again = await append(store, 'back-b', 'b1');
    expect(await store.recent('back-b', 10)).toEqual([again]);
    expect(await store.rooms({ limit: 10 })).toEqual([
      { name: 'back-b', lastMessageAt: again.at },
      { name: 'back-c', lastMessageAt: c.at },
    ]);
  });

  it('keeps a room whose newest message the room sets had not caught up with, and lets the idlest one go instead', async () => {
    const { client, store } = await openStore(cluster.url, 10_000, 2);
    const b0 = await append(store, 'behind-b', 'b0');
    await clockPast(b0.at);
    const a = await append(store, 'behind-a', 'a0');
    await clockPast(a.at);
    // Within the second: the sets still have behind-b at b0's time, older than behind-a's.
    const b1 = await append(store, 'behind-b', 'b1');
    await clockPast(b1.at);
    const c = await append(store, 'behind-c', 'c0');
    await waitUntil(async () => (await client.exists(CLUSTER_KEYS.room('behind-a').stream)) === 0, 'behind-a to go');
    expect(await store.recent('behind-b', 10)).toEqual([b0, b1]);
    expect(await store.rooms({ limit: 10 })).toEqual([
      { name: 'behind-b', lastMessageAt: b1.at },
      { name: 'behind-c', lastMessageAt: c.at },
    ]);
  });

  it('lets such a room go after all when, with its newest message, it is still the idlest', async () => {
    const { client, store } = await openStore(cluster.url, 10_000, 2);
    const r0 = await append(store, 'still-r', 'r0');
    await clockPast(r0.at);
    // Within the second: the sets keep still-r at r0's time.
    const r1 = await append(store, 'still-r', 'r1');
    await clockPast(r1.at);
    const a = await append(store, 'still-a', 'a0');
    await clockPast(a.at);
    const c = await append(store, 'still-c', 'c0');
    await waitUntil(async () => (await client.exists(CLUSTER_KEYS.room('still-r').stream)) === 0, 'still-r to go');
    expect(await store.recent('still-a', 10)).toEqual([a]);
    expect(await store.rooms({ limit: 10 })).toEqual([
      { name: 'still-a', lastMessageAt: a.at },
      { name: 'still-c', lastMessageAt: c.at },
    ]);
  });
});
