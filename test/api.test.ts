import { textsOf } from './support/stored-chat';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { ChatMessage, RawJsonFrame } from '../server/protocol';
import { freshDataDir } from './support/data-dir';
import { startNodes } from './support/nodes';
import { API_TEST_KEY, callApi, postMessage, type ApiCallOptions } from './support/api';
import { connectRaw, type RawTestClient } from './support/raw-client';
import type { RedisProcess } from '../tools/redis-process';
import { describeWithRedis, startRedis } from './support/redis';
import { waitUntil } from './support/wait';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';

jest.setTimeout(30_000);

/** One API request, its answer checked against docs/openapi.yaml (see callApi); the body as JSON of any shape. */
const call = (url: string, method: string, path: string, options: ApiCallOptions = {}) => callApi<any>(url, method, path, options);

const apiServer = (env: Record<string, string> = {}) => startTestServer({ API_KEY: API_TEST_KEY, ...env });

/** The next chat a raw `format=json` client receives, notices skipped. */
async function nextRawChat(client: RawTestClient): Promise<ChatMessage> {
  for (;;) {
    const frame: RawJsonFrame = await client.nextJson();
    if (frame.type === 'chat') {
      const { type: _type, ...message } = frame;
      return message;
    }
  }
}

/** A raw and a Socket.IO client of `room`, both past their arrival. */
async function listeners(url: string, room: string): Promise<{ raw: RawTestClient; sio: SioTestClient }> {
  const raw = await connectRaw(url, { format: 'json', name: `raw-${room}` }, {}, { room });
  const sio = await connectSio(url, { auth: { name: `sio-${room}` }, room });
  await sio.histories.next();
  return { raw, sio };
}

/** Writes `head` and `body` on a plain TCP connection; resolves with everything read until the server closes it. */
function rawHttp(url: string, head: string, body: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head + body));
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

describe('HTTP API: access', () => {
  it('is off without API_KEY: 404 api_disabled, with or without a bearer', async () => {
    const server = await startTestServer();
    for (const key of [null, API_TEST_KEY]) {
      const answer = await call(server.url, 'GET', '/api/rooms', { key });
      expect(answer).toMatchObject({ status: 404, body: { error: 'api_disabled' } });
    }
    expect((await postMessage(server.url, 'alpha', { text: 'hi' })).status).toBe(404);
  });

  it('needs the bearer: none, a wrong one or another scheme get 401 unauthorized', async () => {
    const server = await apiServer();
    const tries: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${API_TEST_KEY}` }, { authorization: API_TEST_KEY }];
    for (const headers of tries) {
      const answer = await call(server.url, 'GET', '/api/rooms', { key: null, headers });
      expect(answer).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    const refused = await call(server.url, 'POST', '/api/rooms/alpha/messages', { key: 'wrong', json: { text: 'hi' } });
    expect(refused).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect((await call(server.url, 'GET', '/api/rooms/alpha/messages', { key: null })).status).toBe(401);
  });

  it('answers 404 not_found for unknown paths and 405 for wrong methods', async () => {
    const server = await apiServer();
    for (const path of ['/api', '/api/', '/api/nope', '/api/rooms/alpha', '/api/rooms/alpha/typing']) {
      expect(await call(server.url, 'GET', path)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    }
    const put = await call(server.url, 'PUT', '/api/rooms/alpha/messages', { json: { text: 'hi' } });
    expect(put).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await call(server.url, 'POST', '/api/rooms', { json: {} })).status).toBe(405);
    expect((await call(server.url, 'DELETE', '/api/rooms/alpha/presence')).status).toBe(405);
  });
});

describe('HTTP API: posting', () => {
  it('delivers a post to raw and Socket.IO clients of its room, and not to another room', async () => {
    const server = await apiServer();
    const alpha = await listeners(server.url, 'alpha');
    const beta = await listeners(server.url, 'beta');

    const answer = await postMessage(server.url, 'alpha', { text: 'hello from the backend', name: 'billing' });
    expect(answer.status).toBe(201);
    const expected = { id: answer.body.id, at: answer.body.at, text: 'hello from the backend', name: 'billing' };
    expect(await nextRawChat(alpha.raw)).toEqual(expected);
    expect(await alpha.sio.chats.next()).toEqual(expected);

    // beta's clients: the next chat they get is beta's own marker, posted after.
    expect((await postMessage(server.url, 'beta', { text: 'beta marker' })).status).toBe(201);
    expect((await nextRawChat(beta.raw)).text).toBe('beta marker');
    expect((await beta.sio.chats.next()).text).toBe('beta marker');
  });

  it('names a post `api` by default and cleans a given name like a client’s', async () => {
    const server = await apiServer();
    const { sio } = await listeners(server.url, 'alpha');
    await postMessage(server.url, 'alpha', { text: 'one' });
    await postMessage(server.url, 'alpha', { text: 'two', name: '  bo\u0000b\u200b ' });
    expect((await sio.chats.take(2)).map((m) => m.name)).toEqual(['api', 'bob']);
  });

  it('keeps posts in the history: GET messages, and a newcomer’s history', async () => {
    const server = await apiServer();
    const ids: string[] = [];
    for (const text of ['first', 'second', 'third']) ids.push((await postMessage(server.url, 'alpha', { text })).body.id);

    const all = await call(server.url, 'GET', '/api/rooms/alpha/messages');
    expect(all.status).toBe(200);
    expect(all.body.complete).toBe(true);
    expect(all.body.messages.map((m: ChatMessage) => [m.id, m.text, m.name])).toEqual([
      [ids[0], 'first', 'api'],
      [ids[1], 'second', 'api'],
      [ids[2], 'third', 'api'],
    ]);

    const newcomer = await connectSio(server.url, { room: 'alpha' });
    expect(textsOf(await newcomer.histories.next())).toEqual(['first', 'second', 'third']);
    const raw = await connectRaw(server.url, { format: 'json', since: ids[0] as string }, {}, { room: 'alpha' });
    expect((await raw.nextJson()) as unknown).toMatchObject({ type: 'chat', text: 'second' });
  });

  it('answers a repeated Idempotency-Key with the first answer and delivers the message once', async () => {
    const server = await apiServer();
    const { raw, sio } = await listeners(server.url, 'alpha');
    const headers = { 'idempotency-key': 'order-42-shipped' };

    const first = await postMessage(server.url, 'alpha', { text: 'order 42 shipped' }, headers);
    const again = await postMessage(server.url, 'alpha', { text: 'order 42 shipped' }, headers);
    expect(first.status).toBe(201);
    expect(again).toMatchObject({ status: 200, body: first.body });
    await postMessage(server.url, 'alpha', { text: 'marker' });

    expect((await nextRawChat(raw)).text).toBe('order 42 shipped');
    expect((await nextRawChat(raw)).text).toBe('marker');
    expect((await sio.chats.take(2)).map((m) => m.text)).toEqual(['order 42 shipped', 'marker']);
    const history = await call(server.url, 'GET', '/api/rooms/alpha/messages');
    expect(history.body.messages.map((m: ChatMessage) => m.text)).toEqual(['order 42 shipped', 'marker']);
  });

  // Found by hostile testing: a key reused for another message answered 200 with the
  // first post's id and posted nothing, so the second message was silently lost.
  it('answers 422 idempotency_key_reused to a key sent again with another room, name or text, and posts nothing', async () => {
    const server = await apiServer();
    const alpha = await listeners(server.url, 'alpha');
    const beta = await listeners(server.url, 'beta');
    const headers = { 'idempotency-key': 'deploy-1842' };
    const first = await postMessage(server.url, 'alpha', { text: 'deploy 1842 is live', name: 'deploy-bot' }, headers);
    expect(first.status).toBe(201);

    const reuses: [string, unknown][] = [
      ['beta', { text: 'deploy 1842 is live', name: 'deploy-bot' }],
      ['alpha', { text: 'deploy 1843 is live', name: 'deploy-bot' }],
      ['alpha', { text: 'deploy 1842 is live', name: 'someone-else' }],
      ['alpha', { text: 'deploy 1842 is live' }],
    ];
    for (const [room, body] of reuses) {
      const answer = await postMessage(server.url, room, body, headers);
      expect([room, body, answer.status, answer.body]).toEqual([room, body, 422, { error: 'idempotency_key_reused' }]);
    }
    // The same request again still answers the first result.
    const again = await postMessage(server.url, 'alpha', { text: 'deploy 1842 is live', name: 'deploy-bot' }, headers);
    expect(again).toMatchObject({ status: 200, body: first.body });

    await postMessage(server.url, 'alpha', { text: 'alpha marker' });
    await postMessage(server.url, 'beta', { text: 'beta marker' });
    expect((await alpha.sio.chats.take(2)).map((m) => m.text)).toEqual(['deploy 1842 is live', 'alpha marker']);
    expect((await nextRawChat(alpha.raw)).text).toBe('deploy 1842 is live');
    expect((await nextRawChat(alpha.raw)).text).toBe('alpha marker');
    expect((await beta.sio.chats.next()).text).toBe('beta marker');
    expect((await nextRawChat(beta.raw)).text).toBe('beta marker');
  });

  it('makes a duplicate sent while the first is being stored wait for the first’s answer', async () => {
    const server = await apiServer();
    const { sio } = await listeners(server.url, 'alpha');
    const headers = { 'idempotency-key': 'at-once' };
    const answers = await Promise.all([1, 2, 3].map(() => postMessage(server.url, 'alpha', { text: 'once' }, headers)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    await postMessage(server.url, 'alpha', { text: 'marker' });
    expect((await sio.chats.take(2)).map((m) => m.text)).toEqual(['once', 'marker']);
  });

  it('refuses an Idempotency-Key that is too long or not visible ASCII', async () => {
    const server = await apiServer();
    for (const key of ['k'.repeat(201), 'with space']) {
      const answer = await postMessage(server.url, 'alpha', { text: 'hi' }, { 'idempotency-key': key });
      expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_idempotency_key' } });
    }
    expect((await postMessage(server.url, 'alpha', { text: 'hi' }, { 'idempotency-key': 'k'.repeat(200) })).status).toBe(201);
  });

  it('answers 429 rate_limited after a burst of twice API_RATE_LIMIT', async () => {
    const server = await apiServer({ API_RATE_LIMIT: '1' });
    const statuses: number[] = [];
    while (statuses.length < 10 && !statuses.includes(429)) {
      const answer = await postMessage(server.url, 'alpha', { text: `#${statuses.length}` });
      statuses.push(answer.status);
      if (answer.status === 429) expect(answer.body).toEqual({ error: 'rate_limited' });
    }
    expect(statuses.slice(0, 2)).toEqual([201, 201]);
    expect(statuses).toContain(429);
  });
});

describe('HTTP API: refused posts', () => {
  it('refuses bodies that are not a message: 400 invalid_json, invalid_type, empty', async () => {
    const server = await apiServer();
    const { sio } = await listeners(server.url, 'alpha');
    const cases: [string, string][] = [
      ['{"text":', 'invalid_json'],
      ['', 'invalid_json'],
      ['"just a string"', 'invalid_type'],
      ['[]', 'invalid_type'],
      ['null', 'invalid_type'],
      ['{}', 'invalid_type'],
      ['{"text":5}', 'invalid_type'],
      ['{"text":"hi","name":3}', 'invalid_type'],
      ['{"text":"hi","room":"beta"}', 'invalid_type'],
      ['{"text":"   \\n "}', 'empty'],
      ['{"text":""}', 'empty'],
    ];
    for (const [body, error] of cases) {
      const answer = await call(server.url, 'POST', '/api/rooms/alpha/messages', { body, headers: { 'content-type': 'application/json' } });
      expect([body, answer.status, answer.body]).toEqual([body, 400, { error }]);
    }
    await postMessage(server.url, 'alpha', { text: 'marker' });
    expect((await sio.chats.next()).text).toBe('marker');
  });

  it('refuses a body that is not application/json with 415', async () => {
    const server = await apiServer();
    const types: Record<string, string>[] = [{ 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, {}];
    for (const headers of types) {
      const answer = await call(server.url, 'POST', '/api/rooms/alpha/messages', { body: '{"text":"hi"}', headers });
      expect(answer).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
    }
    const charset = await call(server.url, 'POST', '/api/rooms/alpha/messages', {
      body: '{"text":"hi"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(charset.status).toBe(201);
  });

  it('refuses text over MAX_MESSAGE_BYTES with 413 too_large', async () => {
    const server = await apiServer({ MAX_MESSAGE_BYTES: '100' });
    expect((await postMessage(server.url, 'alpha', { text: 'é'.repeat(50) })).status).toBe(201);
    expect(await postMessage(server.url, 'alpha', { text: `${'é'.repeat(50)}x` })).toMatchObject({ status: 413, body: { error: 'too_large' } });
  });

  it('answers 413 to a huge declared body before it is sent, and closes the connection', async () => {
    const server = await apiServer({ MAX_MESSAGE_BYTES: '1000' });
    const head =
      `POST /api/rooms/alpha/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${API_TEST_KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`;
    // 100 MiB announced, 1 KiB sent: the answer and the close come without the rest.
    const answer = await rawHttp(server.url, head, `{"text":"${'a'.repeat(1024)}`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer.endsWith('{"error":"too_large"}')).toBe(true);
    // Refused for another reason before the body is read: closed the same way.
    const unauthorized = await rawHttp(server.url, head.replace(`Bearer ${API_TEST_KEY}`, 'Bearer wrong'), 'x');
    expect(unauthorized).toMatch(/^HTTP\/1\.1 401 [^]*\r\nconnection: close\r\n/i);
  });

  it('answers 413 to a chunked body once it passes the limit, and closes the connection', async () => {
    const server = await apiServer({ MAX_MESSAGE_BYTES: '1000' });
    const head =
      `POST /api/rooms/alpha/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${API_TEST_KEY}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = 'a'.repeat(8 * 1024);
    // Past the limit (6 x 1000 + 1024 bytes), and never finished.
    const answer = await rawHttp(server.url, head, `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.endsWith('{"error":"too_large"}')).toBe(true);
  });

  it('refuses malformed room names with 400 invalid_room on every route', async () => {
    const server = await apiServer();
    for (const room of ['Alpha', 'a..b', '-a', 'a%20b', 'a%2Fb', '%E0', 'x'.repeat(65)]) {
      for (const [method, path] of [
        ['GET', `/api/rooms/${room}/messages`],
        ['GET', `/api/rooms/${room}/presence`],
        ['POST', `/api/rooms/${room}/messages`],
      ] as const) {
        const answer = await call(server.url, method, path, method === 'POST' ? { json: { text: 'hi' } } : {});
        expect([room, method, path, answer.status, answer.body]).toEqual([room, method, path, 400, { error: 'invalid_room' }]);
      }
    }
  });

  it('answers 503 room_limit when every room this node may hold has clients', async () => {
    const server = await apiServer({ MAX_ROOMS: '2' });
    await listeners(server.url, 'alpha');
    expect(await postMessage(server.url, 'beta', { text: 'hi' })).toMatchObject({ status: 503, body: { error: 'room_limit' } });
    expect((await postMessage(server.url, 'alpha', { text: 'hi' })).status).toBe(201);
    expect((await postMessage(server.url, 'lobby', { text: 'hi' })).status).toBe(201);
  });

  it('answers 503 unavailable when the store can neither take nor read messages', async () => {
    const dataDir = freshDataDir();
    const server = await apiServer({ DATA_DIR: dataDir });
    expect((await postMessage(server.url, 'alpha', { text: 'kept' })).status).toBe(201);
    // A file where the database's directory was: the store cannot open it again.
    rmSync(dataDir, { recursive: true, force: true });
    writeFileSync(dataDir, 'not a directory');
    await waitUntil(async () => (await call(server.url, 'GET', '/api/rooms')).status === 503, 'GET /api/rooms to answer 503');
    expect(await call(server.url, 'GET', '/api/rooms')).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await call(server.url, 'GET', '/api/rooms/alpha/messages')).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await postMessage(server.url, 'alpha', { text: 'lost' })).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    rmSync(dataDir, { force: true });
    mkdirSync(dataDir);
  });
});

describe('HTTP API: reading', () => {
  it('pages history: the latest `limit`, `since` an id, and complete:false for an unknown id', async () => {
    const server = await apiServer();
    const ids: string[] = [];
    for (let i = 1; i <= 5; i += 1) ids.push((await postMessage(server.url, 'alpha', { text: `m${i}` })).body.id);
    const texts = (answer: { body: { messages: ChatMessage[] } }) => answer.body.messages.map((m) => m.text);

    const latest = await call(server.url, 'GET', '/api/rooms/alpha/messages?limit=2');
    expect([texts(latest), latest.body.complete]).toEqual([['m4', 'm5'], true]);
    const after = await call(server.url, 'GET', `/api/rooms/alpha/messages?since=${ids[1]}&limit=2`);
    expect([texts(after), after.body.complete]).toEqual([['m3', 'm4'], true]);
    const rest = await call(server.url, 'GET', `/api/rooms/alpha/messages?since=${ids[4]}`);
    expect([texts(rest), rest.body.complete]).toEqual([[], true]);
    const unknown = await call(server.url, 'GET', '/api/rooms/alpha/messages?since=1-0');
    expect(unknown.body.complete).toBe(false);
    // Never 304, whatever a poller sends (not through fetch, which adds no-cache to it).
    const conditional = await rawHttp(
      server.url,
      `GET /api/rooms/alpha/messages?limit=2 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${API_TEST_KEY}\r\n` +
        `If-None-Match: ${latest.headers.get('etag') ?? '*'}\r\nConnection: close\r\n\r\n`,
      '',
    );
    expect(conditional).toMatch(/^HTTP\/1\.1 200 /);
    const empty = await call(server.url, 'GET', '/api/rooms/nobody-here/messages');
    expect(empty.body).toEqual({ messages: [], complete: true, more: false });
  });

  it('refuses a bad limit with 400 invalid_limit and a since that is no id with 400 invalid_since', async () => {
    const server = await apiServer();
    for (const limit of ['0', '-1', 'abc', '1001', '', '1e2', '2.5', '10000']) {
      const answer = await call(server.url, 'GET', `/api/rooms/alpha/messages?limit=${limit}`);
      expect([limit, answer.status, answer.body]).toEqual([limit, 400, { error: 'invalid_limit' }]);
    }
    expect((await call(server.url, 'GET', '/api/rooms/alpha/messages?limit=1&limit=2')).body).toEqual({ error: 'invalid_limit' });
    expect((await call(server.url, 'GET', '/api/rooms/alpha/messages?limit=1000')).status).toBe(200);
    for (const since of ['abc', '12', '1-2-3', '']) {
      const answer = await call(server.url, 'GET', `/api/rooms/alpha/messages?since=${since}`);
      expect([since, answer.status, answer.body]).toEqual([since, 400, { error: 'invalid_since' }]);
    }
  });

  it('lists rooms with stored messages or clients, by name, with online counts of both kinds', async () => {
    const server = await apiServer();
    expect((await call(server.url, 'GET', '/api/rooms')).body).toEqual({ rooms: [], next: null });
    await connectRaw(server.url, { name: 'ann' }, {}, { room: 'zeta' });
    await connectSio(server.url, { auth: { name: 'bob' }, room: 'zeta' });
    const posted = await postMessage(server.url, 'alpha', { text: 'hi' });

    const { body } = await call(server.url, 'GET', '/api/rooms');
    expect(body).toEqual({
      rooms: [
        { name: 'alpha', online: 0, lastMessageAt: posted.body.at },
        { name: 'zeta', online: 2, lastMessageAt: null },
      ],
      next: null,
    });
  });

  it('shows presence of both kinds, and reads a room not in memory without bringing it in', async () => {
    const server = await apiServer();
    await connectRaw(server.url, { name: 'ann' }, {}, { room: 'alpha' });
    const bob = await connectSio(server.url, { auth: { name: 'bob' }, room: 'alpha' });
    await connectSio(server.url, { auth: { name: 'bob' }, room: 'alpha' });
    await bob.presences.next();
    const presence = await call(server.url, 'GET', '/api/rooms/alpha/presence');
    expect(presence).toMatchObject({
      status: 200,
      body: { online: 3, members: [{ name: 'ann', connections: 1 }, { name: 'bob', connections: 2 }] },
    });

    const roomsHeld = async () => /^chat_rooms (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1];
    const before = await roomsHeld();
    expect((await call(server.url, 'GET', '/api/rooms/ghost/presence')).body).toEqual({ online: 0, members: [] });
    await call(server.url, 'GET', '/api/rooms/ghost/messages');
    // /metrics is rendered at most once a second: a marker request after the ghost reads,
    // and a rendering that counts it is newer than they are.
    await call(server.url, 'GET', '/api/rooms', { key: 'wrong' });
    const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
    await waitUntil(async () => /^chat_api_requests_total\{method="GET",status="401"\} 1$/m.test(await metrics()), 'a rendering of /metrics after the ghost reads');
    expect(await roomsHeld()).toBe(before);
  });

  it('counts API requests and posted messages in /metrics', async () => {
    const server = await apiServer();
    await postMessage(server.url, 'alpha', { text: 'hi' });
    await call(server.url, 'GET', '/api/rooms', { key: 'wrong' });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^chat_api_requests_total\{method="POST",status="201"\} 1$/m);
    expect(metrics).toMatch(/^chat_api_requests_total\{method="GET",status="401"\} 1$/m);
    expect(metrics).toMatch(/^chat_messages_in_total\{transport="api"\} 1$/m);
  });
});

describeWithRedis('HTTP API with two nodes on one Redis', () => {
  jest.setTimeout(90_000);
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });

  it('delivers a post on node A to raw and Socket.IO clients of the room on node B, and B reads it back', async () => {
    await redis.flush();
    const [a, b] = await startNodes(2, { REDIS_URL: redis.url, API_KEY: API_TEST_KEY });
    const onB = await listeners(b!.url, 'alpha');

    const answer = await postMessage(a!.url, 'alpha', { text: 'from A', name: 'backend' });
    expect(answer.status).toBe(201);
    const expected = { ...answer.body, text: 'from A', name: 'backend' };
    expect(await nextRawChat(onB.raw)).toEqual(expected);
    expect(await onB.sio.chats.next()).toEqual(expected);

    const history = await call(b!.url, 'GET', '/api/rooms/alpha/messages');
    expect(history.body.messages).toEqual([expected]);
    const rooms = await call(b!.url, 'GET', '/api/rooms');
    expect(rooms.body.rooms).toContainEqual({ name: 'alpha', online: 2, lastMessageAt: answer.body.at });
    await waitUntil(
      async () => (await call(a!.url, 'GET', '/api/rooms/alpha/presence')).body.online === 2,
      'node A to count node B’s two clients',
    );
  });
});
