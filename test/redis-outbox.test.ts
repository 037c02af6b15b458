import pino from 'pino';
import type { MemberRef } from '../server/store/event-outbox';
import { idParts } from '../server/store/message-id';
import { nodeKey, NODES_KEY, WEBHOOKS_KEY } from '../server/store/redis/keys';
import { RedisOutbox, type RedisOutboxOptions } from '../server/store/redis/outbox';
import { RedisStore } from '../server/store/redis-store';
import type { RedisProcess } from '../tools/redis-process';
import { onCleanup } from './support/cleanup';
import { append, change } from './support/store-calls';
import { connectRedisClient, describeWithRedis, startRedis, type RedisTestClient } from './support/redis';
import { waitUntil } from './support/wait';

// A redis-server of its own, stopped and started again once.
jest.setTimeout(60_000);

const logger = pino({ level: 'silent' });

type Client = RedisTestClient;

/** Redis's clock, in ms: what the outbox's entry ids start with. */
async function redisMs(client: Client): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Beats fast and lapses soon, so a dead node is let go, and a node counts again, within the test. */
const QUICK: RedisOutboxOptions = { beatMs: 50, heartbeatTtlMs: 1_000 };
/** No beat and no lapse within a test: nodes that are only counted. */
const STEADY: RedisOutboxOptions = { beatMs: 60_000, heartbeatTtlMs: 120_000 };

/** A node's outbox on a connection of its own, beating. */
async function startNode(url: string, options: RedisOutboxOptions) {
  const client = await connectRedisClient(url);
  const outbox = new RedisOutbox(client, logger, options);
  await outbox.start();
  onCleanup('clients', () => outbox.stop());
  // Everything sent before on this connection has been run: Redis answers in order.
  const settled = async () => void (await client.ping());
  return { client, outbox, settled };
}

async function openStore(url: string, events: boolean) {
  const client = await connectRedisClient(url);
  return { client, store: new RedisStore(client, 10_000, 0, logger, events ? new RedisOutbox(client, logger) : undefined) };
}



/** What a receiver would get of each event waiting, its data parsed. */
async function waiting(outbox: RedisOutbox): Promise<{ type: string; room: string | null; data: unknown }[]> {
  return (await outbox.oldest(1_000)).map(({ type, room, data }) => ({ type, room, data: JSON.parse(data) as unknown }));
}

const types = async (outbox: RedisOutbox) => (await waiting(outbox)).map(({ type, data }) => `${type} ${JSON.stringify(data)}`);

const ann: MemberRef = { key: 'u1', name: 'Ann', user: 'u1' };
const bob: MemberRef = { key: 'bob', name: 'bob' };

describeWithRedis('the Redis webhook outbox', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  beforeEach(async () => {
    await redis.flush();
  });

  it('records each stored message with it, in the order of the messages, under ids that stay', async () => {
    const { store } = await openStore(redis.url, true);
    const outbox = store.events!;
    const sent = await Promise.all([
      append(store, 'a', 'first'),
      append(store, 'b', 'say "hi" \u00e9 \ud83d\ude00\n', 'u1', 'Ann'),
      append(store, 'a', 'third', 'u2', 'Cy'),
    ]);

    const events = await outbox.oldest(10);
    expect(events.map(({ type, room, at }) => ({ type, room, at }))).toEqual(
      sent.map((message, i) => ({ type: 'message.created', room: i === 1 ? 'b' : 'a', at: message.at })),
    );
    expect(events.map(({ data }) => JSON.parse(data) as unknown)).toEqual(sent);
    // The contract's order of fields, the id first.
    const [first] = sent;
    expect(events[0]!.data).toBe(`{"id":"${first!.id}","name":"ann","text":"first","at":${first!.at}}`);
    for (const event of events) expect(event.id).toMatch(/^evt_\d+-\d+$/);
    expect(new Set(events.map((event) => event.id)).size).toBe(3);

    // Read again, and after the first is delivered: the same ids.
    expect(await outbox.oldest(10)).toEqual(events);
    await outbox.remove(events.slice(0, 1));
    expect(await outbox.oldest(10)).toEqual(events.slice(1));
    expect(await outbox.depth()).toEqual({ events: 2, oldestAt: sent[1]!.at });
  });

  it('keeps a member’s join, its message and its leave in the order they came, all in one turn', async () => {
    const { client, store } = await openStore(redis.url, true);
    const outbox = store.events!;
    // The store sends a turn's messages at its end; the leave, asked after the message, still comes after it.
    outbox.member('r', bob, 1, 1000);
    const sent = append(store, 'r', 'hello', undefined, 'bob');
    outbox.member('r', bob, -1, 1001);
    const message = await sent;
    await client.ping();
    expect(await types(outbox)).toEqual([
      'room.occupied {}',
      'member.joined {"name":"bob"}',
      `message.created {"id":"${message.id}","name":"bob","text":"hello","at":${message.at}}`,
      'member.left {"name":"bob"}',
      'room.vacated {}',
    ]);
  });

  it('records an edit and a delete with them, and nothing for a change refused', async () => {
    const { store } = await openStore(redis.url, true);
    const outbox = store.events!;
    const message = await append(store, 'a', 'draft', 'u1', 'Ann');
    const other = await append(store, 'a', 'anonymous');

    expect(await change(store, 'a', { kind: 'edit', id: message.id, text: 'final "one"', by: { user: 'u1' }, at: 5001 })).toMatchObject({ version: 1 });
    expect(await change(store, 'a', { kind: 'edit', id: message.id, text: 'by u2', by: { user: 'u2' }, at: 5002 })).toBe('forbidden');
    expect(await change(store, 'a', { kind: 'edit', id: other.id, text: 'by the API', by: 'any', at: 5003 })).toMatchObject({ version: 1 });
    expect(await change(store, 'a', { kind: 'edit', id: message.id, text: 'again', by: 'any', at: 5004 })).toMatchObject({ version: 2 });
    expect(await change(store, 'a', { kind: 'react', id: message.id, emoji: '\ud83d\udc4d', user: 'u3', on: true })).toMatchObject({ count: 1 });
    expect(await change(store, 'a', { kind: 'delete', id: '1-1', by: 'any' })).toBe('not_found');
    expect(await change(store, 'a', { kind: 'delete', id: message.id, by: { user: 'u1' } })).toEqual({ kind: 'delete', id: message.id });

    const { id, name, at } = message;
    expect(await waiting(outbox)).toEqual([
      { type: 'message.created', room: 'a', data: message },
      { type: 'message.created', room: 'a', data: other },
      { type: 'message.edited', room: 'a', data: { id, name, text: 'final "one"', at, user: 'u1', version: 1, editedAt: 5001 } },
      { type: 'message.edited', room: 'a', data: { id: other.id, name: 'ann', text: 'by the API', at: other.at, version: 1, editedAt: 5003 } },
      { type: 'message.edited', room: 'a', data: { id, name, text: 'again', at, user: 'u1', version: 2, editedAt: 5004 } },
      { type: 'message.deleted', room: 'a', data: { id } },
    ]);
  });

  it('writes no outbox with events off', async () => {
    const { client, store } = await openStore(redis.url, false);
    expect(store.events).toBeUndefined();
    const message = await append(store, 'a', 'hello', 'u1');
    expect(await change(store, 'a', { kind: 'edit', id: message.id, text: 'edited', by: 'any', at: 1 })).toMatchObject({ version: 1 });
    expect(await change(store, 'a', { kind: 'delete', id: message.id, by: 'any' })).toEqual({ kind: 'delete', id: message.id });
    expect(await store.recent('a', 10)).toEqual([{ id: message.id, at: message.at, deleted: true }]);
    expect(await client.exists(WEBHOOKS_KEY)).toBe(0);
  });

  it('counts a member once across tabs and nodes: its first connection joins, its last leaves', async () => {
    const a = await startNode(redis.url, STEADY);
    const b = await startNode(redis.url, STEADY);
    a.outbox.member('r', ann, 1, 1000);
    await a.settled();
    b.outbox.member('r', ann, 1, 1001);
    await b.settled();
    b.outbox.member('r', bob, 1, 1002);
    b.outbox.member('r', bob, 1, 1003);
    await b.settled();
    expect(await types(a.outbox)).toEqual(['room.occupied {}', 'member.joined {"name":"Ann","user":"u1"}', 'member.joined {"name":"bob"}']);

    a.outbox.member('r', ann, -1, 2000);
    await a.settled();
    b.outbox.member('r', bob, -1, 2001);
    await b.settled();
    expect(await a.outbox.depth()).toEqual({ events: 3, oldestAt: 1000 });

    // A leave that node never counted takes nobody else's connection.
    a.outbox.member('r', bob, -1, 2002);
    await a.settled();
    b.outbox.member('r', ann, -1, 2003);
    await b.settled();
    b.outbox.member('r', bob, -1, 2004);
    await b.settled();
    const events = await waiting(a.outbox);
    expect(events.slice(3)).toEqual([
      { type: 'member.left', room: 'r', data: { name: 'Ann', user: 'u1' } },
      { type: 'member.left', room: 'r', data: { name: 'bob' } },
      { type: 'room.vacated', room: 'r', data: {} },
    ]);
    expect((await a.outbox.oldest(10)).map((event) => event.at)).toEqual([1000, 1000, 1002, 2003, 2004, 2004]);
  });

  it('lets the members of a node that stopped beating go, and counts them again when it comes back', async () => {
    const a = await startNode(redis.url, QUICK);
    const b = await startNode(redis.url, QUICK);
    a.outbox.member('r', ann, 1, 1000);
    a.outbox.member('s', ann, 1, 1000);
    await a.settled();
    b.outbox.member('r', bob, 1, 1001);
    await b.settled();

    // Dead, as the others see it: no more beats, its heartbeat lapses.
    a.outbox.stop();
    await waitUntil(async () => (await a.outbox.depth()).events >= 8, 'the node that beats lets the other one go');
    expect(await a.client.exists(nodeKey(a.outbox.nodeId))).toBe(0);
    const events = await waiting(b.outbox);
    expect(events.slice(0, 5).map(({ type, room }) => `${type} ${room}`)).toEqual([
      'room.occupied r',
      'member.joined r',
      'room.occupied s',
      'member.joined s',
      'member.joined r',
    ]);
    // `r` keeps bob.
    const left = events.slice(5);
    expect(left).toEqual(
      expect.arrayContaining([
        { type: 'member.left', room: 'r', data: { name: 'Ann', user: 'u1' } },
        { type: 'member.left', room: 's', data: { name: 'Ann', user: 'u1' } },
        { type: 'room.vacated', room: 's', data: {} },
      ]),
    );
    expect(left).toHaveLength(3);

    // Its clients never left: beating again, it counts them again.
    await a.outbox.start();
    const back = (await waiting(b.outbox)).slice(8);
    expect(back).toEqual(
      expect.arrayContaining([
        { type: 'member.joined', room: 'r', data: { name: 'Ann', user: 'u1' } },
        { type: 'room.occupied', room: 's', data: {} },
        { type: 'member.joined', room: 's', data: { name: 'Ann', user: 'u1' } },
      ]),
    );
    expect(back).toHaveLength(3);

    // A clean stop takes what is left of its members away at once.
    await a.outbox.leave();
    const gone = (await waiting(b.outbox)).slice(11);
    expect(gone).toEqual(
      expect.arrayContaining([
        { type: 'member.left', room: 'r', data: { name: 'Ann', user: 'u1' } },
        { type: 'member.left', room: 's', data: { name: 'Ann', user: 'u1' } },
        { type: 'room.vacated', room: 's', data: {} },
      ]),
    );
    expect(gone).toHaveLength(3);
  });

  it('takes back no connection of a node once it was let go', async () => {
    const a = await startNode(redis.url, QUICK);
    const b = await startNode(redis.url, QUICK);
    a.outbox.member('r', ann, 1, 1000);
    await a.settled();
    b.outbox.member('r', ann, 1, 1001);
    await b.settled();
    a.outbox.stop();
    await waitUntil(async () => !(await b.client.sIsMember(NODES_KEY, a.outbox.nodeId)), 'the stopped node let go');

    // Its tab leaves before it beats again: the tab on the other node keeps the member in.
    a.outbox.member('r', ann, -1, 2000);
    await a.settled();
    expect(await types(b.outbox)).toEqual(['room.occupied {}', 'member.joined {"name":"Ann","user":"u1"}']);
    b.outbox.member('r', ann, -1, 2001);
    await b.settled();
    expect((await types(b.outbox)).slice(2)).toEqual(['member.left {"name":"Ann","user":"u1"}', 'room.vacated {}']);
  });

  it('gives the delivery lease to one owner at a time, and to another once it lapses', async () => {
    const a = await startNode(redis.url, STEADY);
    const b = await startNode(redis.url, STEADY);
    expect(await a.outbox.lease('a', 300)).toBe(true);
    expect(await b.outbox.lease('b', 300)).toBe(false);
    expect(await a.outbox.lease('a', 300)).toBe(true);
    expect(await b.outbox.lease('b', 300)).toBe(false);
    // `a` stops renewing it.
    await waitUntil(() => b.outbox.lease('b', 60_000), 'b takes the lease once it lapses');
    expect(await a.outbox.lease('a', 300)).toBe(false);
    expect(await b.outbox.lease('b', 60_000)).toBe(true);
  });

  it('drops the events older than a time and says how many, and counts what waits', async () => {
    const a = await startNode(redis.url, STEADY);
    expect(await a.outbox.depth()).toEqual({ events: 0, oldestAt: null });
    for (let i = 0; i < 3; i++) a.outbox.record('r', 'moderation.kick', { name: `old${i}` }, 100 + i);
    await a.settled();
    const old = await a.outbox.oldest(10);
    const last = Math.max(...old.map((event) => idParts(event.id.slice('evt_'.length))![0]));
    // Redis's clock past the old ones: what is recorded now is newer.
    await waitUntil(async () => (await redisMs(a.client)) > last, 'a later millisecond');
    a.outbox.record(null, 'moderation.ban', { user: 'u9' }, 200);
    a.outbox.record('r', 'moderation.mute', { name: 'new' }, 201);
    await a.settled();
    expect(await a.outbox.depth()).toEqual({ events: 5, oldestAt: 100 });

    expect(await a.outbox.expire(last + 1)).toBe(3);
    expect(await waiting(a.outbox)).toEqual([
      { type: 'moderation.ban', room: null, data: { user: 'u9' } },
      { type: 'moderation.mute', room: 'r', data: { name: 'new' } },
    ]);
    expect(await a.outbox.depth()).toEqual({ events: 2, oldestAt: 200 });
    expect(await a.outbox.expire(last + 1)).toBe(0);
  });

  it('rides out Redis down without a throw, counts what it could not record, and counts its members again after', async () => {
    const a = await startNode(redis.url, QUICK);
    const { client, store } = await openStore(redis.url, true);
    a.outbox.member('r', ann, 1, 1000);
    await a.settled();

    await redis.stop();
    await waitUntil(() => !a.client.isReady && !client.isReady, 'both connections to see Redis gone');
    a.outbox.member('r', bob, 1, 1001);
    a.outbox.record('r', 'moderation.kick', { name: 'x' }, 1002);
    const message = await append(store, 'r', 'while down');
    expect(idParts(message.id)![1]).toBeGreaterThanOrEqual(2 ** 32);
    expect(await a.outbox.lease('a', 1000)).toBe(false);
    await waitUntil(() => a.outbox.lost === 2, 'the member and the kick counted as not recorded');
    expect(store.events!.lost).toBe(1);

    // It comes back empty: the node counts its members in it again at its next beat.
    await redis.start();
    await waitUntil(async () => a.client.isReady && (await types(a.outbox).catch(() => [])).length === 3, 'the members counted again');
    expect(await types(a.outbox)).toEqual(['room.occupied {}', 'member.joined {"name":"Ann","user":"u1"}', 'member.joined {"name":"bob"}']);
  });
});
