import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { HistoryMessage, MessageDelete, MessageEdit, RawJsonFrame, UserRoom } from '../server/protocol';
import { compareIds } from '../server/store/message-id';
import type { RedisProcess } from '../tools/redis-process';
import { API_TEST_KEY, callApi, postMessage, type ApiCallOptions } from './support/api';
import { freshDataDir } from './support/data-dir';
import { signingKey, signToken } from './support/jwt';
import { EventQueue } from './support/event-queue';
import { startNodes } from './support/nodes';
import type { RawTestClient } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';
import { rawJson, sioSend } from './support/stored-chat';
import { waitUntil } from './support/wait';

jest.setTimeout(30_000);

/** One API request, its answer checked against docs/openapi.yaml (see callApi); the body as JSON of any shape. */
const call = (url: string, method: string, path: string, options: ApiCallOptions = {}) => callApi<any>(url, method, path, options);

const patch = (url: string, room: string, id: string, json: unknown) => call(url, 'PATCH', `/api/rooms/${room}/messages/${id}`, { json });
const remove = (url: string, room: string, id: string) => call(url, 'DELETE', `/api/rooms/${room}/messages/${id}`);
const history = async (url: string, room: string, query = ''): Promise<HistoryMessage[]> => {
  const answer = await call(url, 'GET', `/api/rooms/${room}/messages${query}`);
  expect(answer.status).toBe(200);
  return answer.body.messages as HistoryMessage[];
};
const post = async (url: string, room: string, text: string): Promise<string> => {
  const answer = await postMessage(url, room, { text });
  expect(answer.status).toBe(201);
  return answer.body.id;
};

/** A Socket.IO client of `room`, past its arrival, with what it hears of edits and deletes. */
interface Member {
  client: SioTestClient;
  edits: EventQueue<MessageEdit>;
  deletes: EventQueue<MessageDelete>;
}

async function member(url: string, room: string, name: string): Promise<Member> {
  const client = await connectSio(url, { auth: { name }, room });
  const edits = new EventQueue<MessageEdit>(`${name} edit`);
  const deletes = new EventQueue<MessageDelete>(`${name} delete`);
  client.socket.on('edit', (edit) => edits.push(edit));
  client.socket.on('delete', (deleted) => deletes.push(deleted));
  await client.histories.next();
  return { client, edits, deletes };
}

/** The next frame of `type` a raw JSON client receives, the others (chats, notices) skipped. */
async function nextRaw<T extends RawJsonFrame['type']>(client: RawTestClient, type: T): Promise<Extract<RawJsonFrame, { type: T }>> {
  for (;;) {
    const frame = await client.nextJson();
    if (frame.type === type) return frame as Extract<RawJsonFrame, { type: T }>;
  }
}

// The default store (SQLite under a fresh DATA_DIR) and the memory store keep changes the same way.
describe.each([
  ['SQLite', {}],
  ['memory', { DATA_DIR: ':memory:' }],
])('HTTP API on the %s store', (_store, storeEnv: Record<string, string>) => {
  const apiServer = (env: Record<string, string> = {}) => startTestServer({ API_KEY: API_TEST_KEY, ...storeEnv, ...env });

  describe('editing and deleting', () => {
    it('edits a message posted through the API: the room hears `edit`, history shows the new text with version and editedAt', async () => {
      const server = await apiServer();
      const ann = await member(server.url, 'alpha', 'ann');
      const id = await post(server.url, 'alpha', 'helo');
      const before = Date.now();

      const first = await patch(server.url, 'alpha', id, { text: 'hello' });
      expect(first).toMatchObject({ status: 200, body: { id, text: 'hello', version: 1 } });
      expect(first.body.editedAt).toBeGreaterThanOrEqual(before);
      expect(await ann.edits.next()).toEqual(first.body);
      const second = await patch(server.url, 'alpha', id, { text: 'hello, world' });
      expect(second).toMatchObject({ status: 200, body: { id, text: 'hello, world', version: 2 } });
      expect(await ann.edits.next()).toEqual(second.body);

      const [message] = await history(server.url, 'alpha');
      expect(message).toEqual({ id, name: 'api', at: expect.any(Number), text: 'hello, world', version: 2, editedAt: second.body.editedAt });
      const newcomer = await connectSio(server.url, { room: 'alpha' });
      expect(await newcomer.histories.next()).toEqual([message]);
    });

    it('edits and deletes a message a Socket.IO client sent: everyone in the room hears, history keeps a tombstone', async () => {
      const server = await apiServer();
      const ann = await member(server.url, 'alpha', 'ann');
      const bob = await member(server.url, 'alpha', 'bob');
      const raw = await rawJson(server.url, 'alpha');
      const id = await sioSend(ann.client, 'my secret is 1234');
      const kept = await sioSend(bob.client, 'stays');

      const edited = await patch(server.url, 'alpha', id, { text: 'my secret is ****' });
      expect(edited.status).toBe(200);
      expect(await ann.edits.next()).toEqual(edited.body);
      expect(await bob.edits.next()).toEqual(edited.body);
      expect(await nextRaw(raw, 'edit')).toEqual({ type: 'edit', ...edited.body });

      const deleted = await remove(server.url, 'alpha', id);
      expect(deleted).toMatchObject({ status: 200, body: { id, deleted: true } });
      expect(await ann.deletes.next()).toEqual({ id });
      expect(await bob.deletes.next()).toEqual({ id });
      expect(await nextRaw(raw, 'delete')).toEqual({ type: 'delete', id });

      const messages = await history(server.url, 'alpha');
      expect(messages).toEqual([
        { id, at: expect.any(Number), deleted: true },
        { id: kept, name: 'bob', text: 'stays', at: expect.any(Number) },
      ]);
      expect(JSON.stringify(messages)).not.toContain('secret');
      const newcomer = await connectSio(server.url, { room: 'alpha' });
      expect(await newcomer.histories.next()).toEqual(messages);
    });

    it('answers 404 not_found for an id never sent, an id of another room and a deleted message, and tells nobody', async () => {
      const server = await apiServer();
      const ann = await member(server.url, 'alpha', 'ann');
      const inBeta = await post(server.url, 'beta', 'beta’s');
      const gone = await post(server.url, 'alpha', 'gone soon');
      expect((await remove(server.url, 'alpha', gone)).status).toBe(200);
      expect(await ann.deletes.next()).toEqual({ id: gone });

      for (const id of ['1-0', inBeta, gone]) {
        expect(await patch(server.url, 'alpha', id, { text: 'changed' })).toMatchObject({ status: 404, body: { error: 'not_found' } });
        expect(await remove(server.url, 'alpha', id)).toMatchObject({ status: 404, body: { error: 'not_found' } });
      }
      const marker = await post(server.url, 'alpha', 'marker');
      expect((await patch(server.url, 'alpha', marker, { text: 'marker, edited' })).status).toBe(200);
      await ann.edits.expectNothingBefore((edit) => edit.id === marker, 'the marker’s edit');
      expect((await remove(server.url, 'alpha', marker)).status).toBe(200);
      await ann.deletes.expectNothingBefore({ id: marker });
      expect((await history(server.url, 'beta')).map((m) => 'text' in m && m.text)).toEqual(['beta’s']);
    });

    it('answers 400 to an id not of the <ms>-<seq> shape, a bad room and a body that is not an edit', async () => {
      const server = await apiServer();
      const id = await post(server.url, 'alpha', 'original');
      for (const bad of ['abc', '12', '1-2-3', '-1-0', '1-', `${'9'.repeat(17)}-0`, '%E0', 'a%2Fb']) {
        expect([bad, await patch(server.url, 'alpha', bad, { text: 'x' })]).toMatchObject([bad, { status: 400, body: { error: 'invalid_id' } }]);
        expect([bad, await remove(server.url, 'alpha', bad)]).toMatchObject([bad, { status: 400, body: { error: 'invalid_id' } }]);
      }
      for (const room of ['Alpha', 'a..b', '%E0']) {
        expect(await patch(server.url, room, id, { text: 'x' })).toMatchObject({ status: 400, body: { error: 'invalid_room' } });
        expect(await remove(server.url, room, id)).toMatchObject({ status: 400, body: { error: 'invalid_room' } });
      }
      const bodies: [string, string][] = [
        ['{"text":', 'invalid_json'],
        ['{}', 'invalid_type'],
        ['[]', 'invalid_type'],
        ['{"text":5}', 'invalid_type'],
        ['{"text":"hi","name":"someone"}', 'invalid_type'],
        ['{"text":"  \\n "}', 'empty'],
      ];
      const path = `/api/rooms/alpha/messages/${id}`;
      for (const [body, error] of bodies) {
        const answer = await call(server.url, 'PATCH', path, { body, headers: { 'content-type': 'application/json' } });
        expect([body, answer.status, answer.body]).toEqual([body, 400, { error }]);
      }
      expect(await call(server.url, 'PATCH', path, { body: '{"text":"x"}', headers: { 'content-type': 'text/plain' } })).toMatchObject({ status: 415 });
      const get = await call(server.url, 'GET', path);
      expect(get).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
      expect(get.headers.get('allow')).toBe('PATCH, DELETE');
      expect(await history(server.url, 'alpha')).toEqual([{ id, name: 'api', text: 'original', at: expect.any(Number) }]);
    });

    it('answers 413 too_large to an edit over MAX_MESSAGE_BYTES and keeps the text', async () => {
      const server = await apiServer({ MAX_MESSAGE_BYTES: '100' });
      const id = await post(server.url, 'alpha', 'short');
      expect(await patch(server.url, 'alpha', id, { text: 'é'.repeat(50) + 'x' })).toMatchObject({ status: 413, body: { error: 'too_large' } });
      expect((await patch(server.url, 'alpha', id, { text: 'é'.repeat(50) })).status).toBe(200);
      expect(await history(server.url, 'alpha')).toMatchObject([{ id, text: 'é'.repeat(50), version: 1 }]);
    });

    it('draws edits and deletes from the API’s rate budget, with posts', async () => {
      const server = await apiServer({ API_RATE_LIMIT: '1' });
      const id = await post(server.url, 'alpha', 'one');
      // A burst of twice the rate, the post included: edits until one is refused.
      const statuses: number[] = [];
      while (statuses.length < 10 && !statuses.includes(429)) statuses.push((await patch(server.url, 'alpha', id, { text: `#${statuses.length}` })).status);
      expect(statuses.slice(0, 1)).toEqual([200]);
      expect(statuses.at(-1)).toBe(429);
      expect(await remove(server.url, 'alpha', id)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
      expect(await postMessage(server.url, 'alpha', { text: 'two' })).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
      const edits = statuses.length - 1;
      expect(await history(server.url, 'alpha')).toMatchObject([{ id, text: `#${edits - 1}`, version: edits }]);
    });
  });

  describe('older history', () => {
    it('pages back through 1000 messages 100 at a time with `before`, none missing or repeated', async () => {
      const server = await apiServer({ API_RATE_LIMIT: '0' });
      const posted: string[] = [];
      // Ten posts in flight at a time: the ids' order is the store's, whatever the answers' order.
      for (let batch = 0; batch < 100; batch += 1) {
        const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => post(server.url, 'alpha', `m${batch * 10 + i}`)));
        posted.push(...ids);
      }
      posted.sort(compareIds);

      const pages: { ids: string[]; more: boolean }[] = [];
      let query = '?limit=100';
      for (;;) {
        const answer = await call(server.url, 'GET', `/api/rooms/alpha/messages${query}`);
        expect(answer.body.complete).toBe(true);
        const ids = (answer.body.messages as HistoryMessage[]).map((m) => m.id);
        pages.push({ ids, more: answer.body.more });
        if (!answer.body.more) break;
        query = `?before=${ids[0]}&limit=100`;
      }
      expect(pages.map((p) => [p.ids.length, p.more])).toEqual([...Array.from({ length: 9 }, () => [100, true]), [100, false]]);
      expect(pages.reverse().flatMap((p) => p.ids)).toEqual(posted);
    });

    it('reads before an id whether or not it is stored, oldest first, with `more` for what is older', async () => {
      const server = await apiServer();
      const ids: string[] = [];
      for (const text of ['m1', 'm2', 'm3', 'm4']) ids.push(await post(server.url, 'alpha', text));
      const page = async (query: string) => (await call(server.url, 'GET', `/api/rooms/alpha/messages${query}`)).body;
      const texts = (messages: HistoryMessage[]) => messages.map((m) => ('text' in m ? m.text : null));

      const two = await page(`?before=${ids[3]}&limit=2`);
      expect([texts(two.messages), two.more]).toEqual([['m2', 'm3'], true]);
      const rest = await page(`?before=${ids[1]}&limit=2`);
      expect([texts(rest.messages), rest.more]).toEqual([['m1'], false]);
      expect(await page('?before=1-0')).toEqual({ messages: [], complete: true, more: false });
      const future = await page(`?before=${Date.now() + 60_000}-0&limit=3`);
      expect([texts(future.messages), future.more]).toEqual([['m2', 'm3', 'm4'], true]);

      expect((await remove(server.url, 'alpha', ids[2] as string)).status).toBe(200);
      const withTombstone = await page(`?before=${ids[3]}`);
      expect(withTombstone.messages).toEqual([
        expect.objectContaining({ text: 'm1' }),
        expect.objectContaining({ text: 'm2' }),
        { id: ids[2], at: expect.any(Number), deleted: true },
      ]);
    });

    it('answers 400 to a malformed `before`, `before` with `since`, and a limit out of 1-1000', async () => {
      const server = await apiServer();
      const id = await post(server.url, 'alpha', 'one');
      const cases: [string, string][] = [
        ['?before=abc', 'invalid_before'],
        ['?before=', 'invalid_before'],
        ['?before=1-2-3', 'invalid_before'],
        [`?before=${id}&before=${id}`, 'invalid_before'],
        [`?before=${id}&since=${id}`, 'invalid_before'],
        [`?before=${id}&limit=0`, 'invalid_limit'],
        [`?before=${id}&limit=10000`, 'invalid_limit'],
        ['?limit=0', 'invalid_limit'],
        ['?limit=10000', 'invalid_limit'],
      ];
      for (const [query, error] of cases) {
        const answer = await call(server.url, 'GET', `/api/rooms/alpha/messages${query}`);
        expect([query, answer.status, answer.body]).toEqual([query, 400, { error }]);
      }
      expect((await call(server.url, 'GET', `/api/rooms/alpha/messages?before=${id}&limit=1000`)).status).toBe(200);
    });
  });

  describe('a user’s rooms', () => {
    it('lists the rooms where a user marked a message read, with what is unread there', async () => {
      const server = await apiServer();
      const name = 'ann/b smith';
      const user = encodeURIComponent(name);
      const alpha = await member(server.url, 'alpha', name);
      const beta = await member(server.url, 'beta', name);
      const a = [await post(server.url, 'alpha', 'a1'), await post(server.url, 'alpha', 'a2'), await post(server.url, 'alpha', 'a3')];
      const b = [await post(server.url, 'beta', 'b1'), await post(server.url, 'beta', 'b2')];
      await post(server.url, 'gamma', 'never read');
      const rooms = async (who: string) => {
        const answer = await call(server.url, 'GET', `/api/users/${who}/rooms`);
        expect(answer.status).toBe(200);
        return answer.body.rooms as UserRoom[];
      };
      expect(await rooms(user)).toEqual([]);

      expect(await alpha.client.socket.emitWithAck('read', { id: a[0] as string })).toEqual({ ok: true });
      expect(await beta.client.socket.emitWithAck('read', { id: b[1] as string })).toEqual({ ok: true });
      expect(await rooms(user)).toEqual([
        { name: 'alpha', lastId: a[2], lastReadId: a[0], unread: 2 },
        { name: 'beta', lastId: b[1], lastReadId: b[1], unread: 0 },
      ]);

      // Tombstones are not unread; an older marker leaves the marker where it is.
      expect((await remove(server.url, 'alpha', a[1] as string)).status).toBe(200);
      expect(await alpha.client.socket.emitWithAck('read', { id: a[0] as string })).toEqual({ ok: true });
      const afterDelete = await rooms(user);
      expect(afterDelete[0]).toEqual({ name: 'alpha', lastId: a[2], lastReadId: a[0], unread: 1 });
      expect(await call(server.url, 'GET', `/api/users/${user}/rooms?limit=1`)).toMatchObject({ body: { rooms: [afterDelete[0]] } });
      expect(await rooms('ann')).toEqual([]);
    });

    it('knows a JWT user by `sub`: history shows the sender’s user and the reactions, and the user’s rooms are its own', async () => {
      const key = await signingKey('HS256');
      const server = await apiServer(key.env);
      const token = await signToken(key, { sub: 'u-17', name: 'Ann' });
      const ann = await connectSio(server.url, { auth: { token }, room: 'alpha' });
      await ann.histories.next();
      const id = await sioSend(ann, 'ship it');
      expect(await ann.socket.emitWithAck('react', { id, emoji: '🚀', on: true })).toEqual({ ok: true, count: 1 });
      expect(await ann.socket.emitWithAck('read', { id })).toEqual({ ok: true });

      expect(await history(server.url, 'alpha')).toEqual([{ id, name: 'Ann', user: 'u-17', text: 'ship it', at: expect.any(Number), reactions: { '🚀': 1 } }]);
      expect((await call(server.url, 'GET', '/api/users/u-17/rooms')).body.rooms).toEqual([{ name: 'alpha', lastId: id, lastReadId: id, unread: 0 }]);
      expect((await call(server.url, 'GET', '/api/users/Ann/rooms')).body.rooms).toEqual([]);
      const edited = await patch(server.url, 'alpha', id, { text: 'shipped' });
      expect(await history(server.url, 'alpha')).toEqual([
        { id, name: 'Ann', user: 'u-17', text: 'shipped', at: expect.any(Number), reactions: { '🚀': 1 }, version: 1, editedAt: edited.body.editedAt },
      ]);
    });

    it('answers 400 invalid_user to an empty or over-long user and invalid_limit to a bad limit', async () => {
      const server = await apiServer();
      for (const user of ['', 'x'.repeat(257), '%E0']) {
        const answer = await call(server.url, 'GET', `/api/users/${user}/rooms`);
        expect([user, answer.status, answer.body]).toEqual([user, 400, { error: 'invalid_user' }]);
      }
      expect(await call(server.url, 'GET', `/api/users/${'😀'.repeat(256)}/rooms`)).toMatchObject({ status: 200, body: { rooms: [] } });
      for (const limit of ['0', '1001', 'x']) {
        expect(await call(server.url, 'GET', `/api/users/ann/rooms?limit=${limit}`)).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
      }
      expect(await call(server.url, 'POST', '/api/users/ann/rooms', { json: {} })).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    });
  });
});

describe('HTTP API edits and deletes the store or the node cannot take', () => {
  it('answers 503 room_limit when the room cannot be held, and changes nothing', async () => {
    const server = await startTestServer({ API_KEY: API_TEST_KEY, MAX_ROOMS: '2' });
    // The lobby's place is always kept: one room more. alpha's client takes beta's place.
    const id = await post(server.url, 'beta', 'in beta');
    await member(server.url, 'alpha', 'ann');
    expect(await patch(server.url, 'beta', id, { text: 'x' })).toMatchObject({ status: 503, body: { error: 'room_limit' } });
    expect(await remove(server.url, 'beta', id)).toMatchObject({ status: 503, body: { error: 'room_limit' } });
    expect(await history(server.url, 'beta')).toEqual([{ id, name: 'api', text: 'in beta', at: expect.any(Number) }]);
  });

  it('answers 503 unavailable when the store can take no change, and tells nobody', async () => {
    const dataDir = freshDataDir();
    const server = await startTestServer({ API_KEY: API_TEST_KEY, DATA_DIR: dataDir });
    const ann = await member(server.url, 'alpha', 'ann');
    const id = await post(server.url, 'alpha', 'kept');
    expect(await ann.client.socket.emitWithAck('read', { id })).toEqual({ ok: true });
    // A file where the database's directory was: the store cannot open it again.
    rmSync(dataDir, { recursive: true, force: true });
    writeFileSync(dataDir, 'not a directory');
    await waitUntil(async () => (await call(server.url, 'GET', '/api/rooms')).status === 503, 'GET /api/rooms to answer 503');
    expect(await patch(server.url, 'alpha', id, { text: 'lost' })).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await remove(server.url, 'alpha', id)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await call(server.url, 'GET', `/api/rooms/alpha/messages?before=${id}`)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await call(server.url, 'GET', '/api/users/ann/rooms')).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    // The directory back, the store opens again: an edit that is made comes after nothing.
    rmSync(dataDir, { force: true });
    mkdirSync(dataDir);
    await waitUntil(async () => (await call(server.url, 'GET', '/api/rooms')).status === 200, 'the store to open again');
    const marker = await post(server.url, 'alpha', 'marker');
    expect((await patch(server.url, 'alpha', marker, { text: 'marker, edited' })).status).toBe(200);
    await ann.edits.expectNothingBefore((edit) => edit.id === marker, 'the marker’s edit');
    expect((await remove(server.url, 'alpha', marker)).status).toBe(200);
    await ann.deletes.expectNothingBefore({ id: marker });
  });
});

describeWithRedis('HTTP API edits and deletes with two nodes on one Redis', () => {
  jest.setTimeout(90_000);
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });

  it('tells the room’s clients on the other node of an edit and a delete made on one, and both read the tombstone', async () => {
    await redis.flush();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, API_KEY: API_TEST_KEY });
    const onB = await member(b!.url, 'alpha', 'bob');
    const rawOnB = await rawJson(b!.url, 'alpha');
    const id = await sioSend(onB.client, 'typo hre');

    const edited = await patch(a!.url, 'alpha', id, { text: 'typo here' });
    expect(edited).toMatchObject({ status: 200, body: { id, text: 'typo here', version: 1 } });
    expect(await onB.edits.next()).toEqual(edited.body);
    expect(await nextRaw(rawOnB, 'edit')).toEqual({ type: 'edit', ...edited.body });
    expect(await history(b!.url, 'alpha')).toEqual([{ id, name: 'bob', text: 'typo here', at: expect.any(Number), version: 1, editedAt: edited.body.editedAt }]);

    expect((await remove(a!.url, 'alpha', id)).status).toBe(200);
    expect(await onB.deletes.next()).toEqual({ id });
    expect(await nextRaw(rawOnB, 'delete')).toEqual({ type: 'delete', id });
    for (const node of [a!, b!]) expect(await history(node.url, 'alpha')).toEqual([{ id, at: expect.any(Number), deleted: true }]);
    expect(await remove(b!.url, 'alpha', id)).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});
