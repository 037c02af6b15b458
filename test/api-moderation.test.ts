/**
 * Moderation through the HTTP API (issue #22): kick, ban by user and by address, per room
 * and everywhere, for a time or for good, mute and lift, with real clients of both kinds;
 * the list's pages and every refusal; bans kept across a restart; and two nodes on Redis,
 * where a ban or a kick made through one node's API reaches the other's clients.
 * Moderators' own Socket.IO requests are in moderation.test.ts.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { BANNED, ModerationClose, type Ban } from '../server/protocol';
import { API_TEST_KEY, callApi, type ApiCallOptions } from './support/api';
import { freshDataDir } from './support/data-dir';
import { UPGRADE_HEADERS } from './support/http-upgrade';
import { MULTI_PROCESS_START_MS, twoNodesOnRedis, type ClusterNode } from './support/nodes';
import { connectRaw, type RawConnectOptions, type RawTestClient } from './support/raw-client';
import { describeWithRedis } from './support/redis';
import { departures, nextFrameOf } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';
import { waitUntil, within } from './support/wait';

jest.setTimeout(30_000);

/** One API request, its answer checked against docs/openapi.yaml (see callApi). */
const call = (url: string, method: string, path: string, options: ApiCallOptions = {}) => callApi<any>(url, method, path, options);

const apiServer = (env: Record<string, string> = {}) => startTestServer({ API_KEY: API_TEST_KEY, ...env });

/** POST /api/bans; resolves with the ban once the answer is 201. */
async function ban(url: string, json: Record<string, unknown>, key?: string): Promise<Ban> {
  const answer = await call(url, 'POST', '/api/bans', { json, ...(key === undefined ? {} : { key }) });
  expect(answer.status).toBe(201);
  return answer.body as Ban;
}

/** Every ban GET /api/bans lists, following `next` from the first page (of `limit`, 100 by default). */
async function listed(url: string, key?: string, limit = 100): Promise<Ban[]> {
  const bans: Ban[] = [];
  let after = '';
  for (;;) {
    const answer = await call(url, 'GET', `/api/bans?limit=${limit}${after === '' ? '' : `&after=${after}`}`, key === undefined ? {} : { key });
    expect(answer.status).toBe(200);
    bans.push(...(answer.body.bans as Ban[]));
    if (answer.body.next === null) return bans;
    after = answer.body.next as string;
  }
}

const byId = (x: Ban, y: Ban) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);

interface Where {
  room?: string;
  localAddress?: string;
}

/** A Socket.IO client named `name` in `room`, from `localAddress` (127.0.0.1 by default). */
const sio = (url: string, name: string, where: Where = {}) =>
  connectSio(url, { auth: { name }, room: where.room ?? 'alpha', ...(where.localAddress ? { localAddress: where.localAddress } : {}) });

/** A raw client named `name` in `room`: `format=json` unless `text`. */
function raw(url: string, name: string, where: Where = {}, format: 'json' | 'text' = 'json'): Promise<RawTestClient> {
  const options: RawConnectOptions = { room: where.room ?? 'alpha', ...(where.localAddress ? { localAddress: where.localAddress } : {}) };
  return connectRaw(url, format === 'json' ? { name, format } : { name }, {}, options);
}

/** Resolves once a Socket.IO client has heard `kicked` with `reason` and been disconnected by the server. */
async function movedOut(client: SioTestClient, room: string, reason: string): Promise<void> {
  const { kicked, gone } = departures(client);
  expect(await kicked.next()).toEqual({ room, reason });
  expect(await gone.next()).toBe('io server disconnect');
}

/**
 * A raw upgrade to `path`, refused or not: the status and the body a browser's WebSocket
 * would not show (upgradeStatus reads only the status).
 */
function rawHandshake(baseUrl: string, path: string, localAddress?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { headers: UPGRADE_HEADERS, ...(localAddress ? { localAddress } : {}) });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The body of a raw handshake refused for a ban (rejectUpgrade ends every refusal's text with a newline). */
const RAW_BANNED_BODY = `${BANNED}\n`;

/** The server has read everything a raw client sent before: its answer to a ping comes after them. */
const pingPong = (client: RawTestClient): Promise<void> =>
  within(
    new Promise<void>((resolve) => {
      client.ws.once('pong', () => resolve());
      client.ws.ping();
    }),
    'a pong',
  );

/** Whether a Socket.IO handshake as `name` in `room` gets in now (the client is closed again). */
async function admitted(url: string, name: string, where: Where = {}): Promise<boolean> {
  try {
    const client = await sio(url, name, where);
    client.socket.close();
    return true;
  } catch {
    return false;
  }
}

const CLUSTER_TEST_MS = 90_000;

describeWithRedis('moderation across two nodes on Redis', () => {
  let a: ClusterNode;
  let b: ClusterNode;
  // Two processes for the block, each test with users and rooms of its own.
  beforeAll(async () => {
    [a, b] = await twoNodesOnRedis();
  }, MULTI_PROCESS_START_MS * 2);

  it('a ban made through A ends the user’s connections on B and B refuses its handshakes; lifted through A, B lets it in', async () => {
    const onB = await sio(b.url, 'b-troll');
    const onBRaw = await raw(b.url, 'b-troll');
    const gone = movedOut(onB, 'alpha', BANNED);

    const made = await ban(a.url, { user: 'b-troll', room: 'alpha' }, a.apiKey);
    // B ends them once it has loaded the ban (it polls the shared version): waited for as events.
    await gone;
    expect(await onBRaw.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });
    await expect(sio(b.url, 'b-troll')).rejects.toMatchObject({ message: BANNED });
    expect(await rawHandshake(b.url, '/socket/alpha?name=b-troll')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    expect(await listed(b.url, b.apiKey)).toContainEqual(made);

    expect(await call(a.url, 'DELETE', `/api/bans/${made.id}`, { key: a.apiKey })).toMatchObject({ status: 200, body: made });
    await waitUntil(() => admitted(b.url, 'b-troll'), 'B to let the user in once the ban is lifted through A');
    expect(await listed(b.url, b.apiKey)).not.toContainEqual(made);
  }, CLUSTER_TEST_MS);

  it('a kick through A reaches the user’s clients of both kinds on B', async () => {
    const onB = await sio(b.url, 'kicked-on-b', { room: 'kicks' });
    const onBRaw = await raw(b.url, 'kicked-on-b', { room: 'kicks' }, 'text');
    const bystander = await sio(b.url, 'stays-on-b', { room: 'kicks' });
    const gone = movedOut(onB, 'kicks', 'off-topic');

    const answer = await call(a.url, 'POST', '/api/rooms/kicks/kick', { json: { user: 'kicked-on-b', reason: 'off-topic' }, key: a.apiKey });
    expect(answer).toMatchObject({ status: 200, body: { room: 'kicks', user: 'kicked-on-b', connections: 0 } });
    await gone;
    expect(await onBRaw.closed).toEqual({ code: ModerationClose.Kicked, reason: 'off-topic' });
    expect(await bystander.chat('still here')).toMatchObject({ ok: true });
    expect(await admitted(b.url, 'kicked-on-b', { room: 'kicks' })).toBe(true);
  }, CLUSTER_TEST_MS);

  it('a mute made through B holds on A once A lists it', async () => {
    const onA = await sio(a.url, 'muted-on-a', { room: 'mutes' });
    const made = await ban(b.url, { kind: 'mute', user: 'muted-on-a', room: 'mutes' }, b.apiKey);
    await waitUntil(async () => (await listed(a.url, a.apiKey)).some((x) => x.id === made.id), 'A to list the mute made through B');
    expect(await onA.chat('anyone?')).toEqual({ ok: false, error: 'muted' });
  }, CLUSTER_TEST_MS);
});

describe('kick', () => {
  it('ends the user’s connections to the room of both kinds, with the reason; other rooms and users stay; they may come back', async () => {
    const server = await apiServer();
    const troll = await sio(server.url, 'troll');
    const trollRaw = await raw(server.url, 'troll', {}, 'text');
    const trollElsewhere = await sio(server.url, 'troll', { room: 'beta' });
    const ann = await sio(server.url, 'ann');
    const gone = movedOut(troll, 'alpha', 'spam');

    const answer = await call(server.url, 'POST', '/api/rooms/alpha/kick', { json: { user: 'troll', reason: 'spam' } });
    expect(answer).toMatchObject({ status: 200, body: { room: 'alpha', user: 'troll', connections: 2 } });
    await gone;
    expect(await trollRaw.closed).toEqual({ code: ModerationClose.Kicked, reason: 'spam' });
    expect(await trollElsewhere.chat('still in beta')).toMatchObject({ ok: true });
    expect(await ann.chat('still in alpha')).toMatchObject({ ok: true });

    // A kick is not a ban: both kinds get in again at once.
    const back = await sio(server.url, 'troll');
    expect(await back.chat('back')).toMatchObject({ ok: true });
    await raw(server.url, 'troll');
    expect((await listed(server.url)).length).toBe(0);
  });

  it('without a reason says `kicked`; a user with no connection here ends none', async () => {
    const server = await apiServer();
    const trollRaw = await raw(server.url, 'troll');
    expect(await call(server.url, 'POST', '/api/rooms/alpha/kick', { json: { user: 'troll' } })).toMatchObject({ status: 200, body: { connections: 1 } });
    expect(await trollRaw.closed).toEqual({ code: ModerationClose.Kicked, reason: 'kicked' });
    const nobody = await call(server.url, 'POST', '/api/rooms/alpha/kick', { json: { user: 'nobody' } });
    expect(nobody).toMatchObject({ status: 200, body: { room: 'alpha', user: 'nobody', connections: 0 } });
  });
});

describe('ban', () => {
  it('by user in a room: live connections end, new handshakes there are refused (raw 403 `banned`, connect_error `banned`), another room is fine', async () => {
    const server = await apiServer();
    const troll = await sio(server.url, 'troll');
    const trollRaw = await raw(server.url, 'troll');
    const trollElsewhere = await sio(server.url, 'troll', { room: 'beta' });
    const ann = await sio(server.url, 'ann');
    const gone = movedOut(troll, 'alpha', BANNED);
    const before = Date.now();

    const made = await ban(server.url, { user: 'troll', room: 'alpha', reason: 'abuse' });
    expect(made).toEqual({ id: expect.any(String), kind: 'ban', user: 'troll', room: 'alpha', until: null, reason: 'abuse', at: expect.any(Number), by: 'api' });
    expect(made.at).toBeGreaterThanOrEqual(before);
    await gone;
    expect(await trollRaw.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });

    await expect(sio(server.url, 'troll')).rejects.toMatchObject({ message: BANNED });
    await expect(raw(server.url, 'troll')).rejects.toThrow('HTTP 403');
    expect(await rawHandshake(server.url, '/socket/alpha?name=troll')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    expect((await rawHandshake(server.url, '/socket/alpha?name=ann')).status).toBe(101);

    expect(await trollElsewhere.chat('still in beta')).toMatchObject({ ok: true });
    expect(await admitted(server.url, 'troll', { room: 'beta' })).toBe(true);
    expect(await ann.chat('unaffected')).toMatchObject({ ok: true });
    expect(await listed(server.url)).toEqual([made]);
  });

  it('by address: every user from it in the room is out, the same users from another address are not', async () => {
    const server = await apiServer();
    const two = { localAddress: '127.0.0.2' };
    const bot = await sio(server.url, 'bot', two);
    const botRaw = await raw(server.url, 'bot-raw', two);
    const fromOne = await sio(server.url, 'bot');
    const gone = movedOut(bot, 'alpha', BANNED);

    const made = await ban(server.url, { ip: '127.0.0.2', room: 'alpha', reason: 'bot farm' });
    expect(made).toMatchObject({ kind: 'ban', ip: '127.0.0.2', room: 'alpha', until: null });
    expect(made).not.toHaveProperty('user');
    await gone;
    expect(await botRaw.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });

    await expect(sio(server.url, 'someone-else', two)).rejects.toMatchObject({ message: BANNED });
    expect(await rawHandshake(server.url, '/socket/alpha?name=anyone', '127.0.0.2')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    expect(await admitted(server.url, 'bot', { room: 'beta', ...two })).toBe(true);
    expect(await fromOne.chat('same name, other address')).toMatchObject({ ok: true });
    expect(await admitted(server.url, 'bot')).toBe(true);
  });

  it('in every room, with `room` absent or null: connections in each room end, and no room lets them in', async () => {
    const server = await apiServer();
    const inAlpha = await sio(server.url, 'troll');
    const inBeta = await raw(server.url, 'troll', { room: 'beta' });
    const fromThree = await sio(server.url, 'whoever', { room: 'gamma', localAddress: '127.0.0.3' });
    const alphaGone = movedOut(inAlpha, 'alpha', BANNED);
    const threeGone = movedOut(fromThree, 'gamma', BANNED);

    expect(await ban(server.url, { user: 'troll' })).toMatchObject({ user: 'troll', room: null });
    await alphaGone;
    expect(await inBeta.closed).toEqual({ code: ModerationClose.Banned, reason: BANNED });
    expect(await ban(server.url, { ip: '127.0.0.3', room: null })).toMatchObject({ ip: '127.0.0.3', room: null });
    await threeGone;

    for (const room of ['alpha', 'beta', 'a-room-never-used']) {
      await expect(sio(server.url, 'troll', { room })).rejects.toMatchObject({ message: BANNED });
      expect(await rawHandshake(server.url, `/socket/${room}?name=troll`)).toEqual({ status: 403, body: RAW_BANNED_BODY });
      expect(await rawHandshake(server.url, `/socket/${room}?name=other`, '127.0.0.3')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    }
    expect(await rawHandshake(server.url, '/socket?name=troll')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    expect(await admitted(server.url, 'ann')).toBe(true);
  });

  it('until a time: refused until then, let in after it, and no longer listed (nor in the way of the pages)', async () => {
    const server = await apiServer();
    const until = Date.now() + 1_500;
    expect(await ban(server.url, { user: 'late', room: 'alpha', until })).toMatchObject({ until });
    // Made after it, so listed after it (ids sort by time): the expired ban must not cut a page short.
    const forGood = [await ban(server.url, { user: 'other-1' }), await ban(server.url, { user: 'other-2' })].sort(byId);
    await expect(raw(server.url, 'late')).rejects.toThrow('HTTP 403');
    expect(await admitted(server.url, 'late')).toBe(false);

    await waitUntil(() => admitted(server.url, 'late'), 'the timed ban to expire');
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    const back = await raw(server.url, 'late');
    back.send('free again');
    expect(await nextFrameOf(back, 'chat')).toMatchObject({ name: 'late', text: 'free again' });
    expect(await listed(server.url)).toEqual(forGood);
    expect(await listed(server.url, undefined, 1)).toEqual(forGood);
  });
});

describe('mute', () => {
  it('the user reads but what it posts reaches nobody: Socket.IO ack `muted`, raw JSON error frame, raw text dropped; others go on', async () => {
    const server = await apiServer();
    const quiet = await sio(server.url, 'quiet');
    const quietJson = await raw(server.url, 'quiet');
    const quietText = await raw(server.url, 'quiet', {}, 'text');
    const ann = await sio(server.url, 'ann');
    const annRaw = await raw(server.url, 'ann');
    const bob = await sio(server.url, 'bob');

    const made = await ban(server.url, { kind: 'mute', user: 'quiet', room: 'alpha', reason: 'cool down' });
    expect(made).toMatchObject({ kind: 'mute', user: 'quiet', room: 'alpha', reason: 'cool down' });
    expect(await quiet.chat('can you hear me?')).toEqual({ ok: false, error: 'muted' });
    quietJson.send('from raw json');
    expect(await nextFrameOf(quietJson, 'error')).toEqual({ type: 'error', error: 'muted' });
    quietText.send('from raw text');
    await pingPong(quietText);

    // Everything quiet sent was handled before bob's message: ann's first chat is bob's.
    expect(await bob.chat('from bob')).toMatchObject({ ok: true });
    await ann.chats.expectNothingBefore((m) => m.text === 'from bob', 'bob’s message');
    expect(await nextFrameOf(annRaw, 'chat')).toMatchObject({ name: 'bob', text: 'from bob' });
    // Muted, not banned: still connected, still reading, and a new connection gets in.
    expect(await quiet.chats.next()).toMatchObject({ name: 'bob', text: 'from bob' });
    expect(await nextFrameOf(quietJson, 'chat')).toMatchObject({ name: 'bob', text: 'from bob' });
    expect(await admitted(server.url, 'quiet')).toBe(true);
    // Only in its room.
    const quietBeta = await sio(server.url, 'quiet', { room: 'beta' });
    expect(await quietBeta.chat('in beta')).toMatchObject({ ok: true });
  });
});

describe('lift', () => {
  it('DELETE lifts a ban (they may come back) and a mute (they may post); a second DELETE answers 404', async () => {
    const server = await apiServer();
    const banned = await ban(server.url, { user: 'troll', room: 'alpha' });
    const muted = await ban(server.url, { kind: 'mute', user: 'quiet', room: 'alpha' });
    const quiet = await sio(server.url, 'quiet');
    const quietText = await raw(server.url, 'quiet', {}, 'text');
    const ann = await sio(server.url, 'ann');
    expect(await admitted(server.url, 'troll')).toBe(false);
    expect(await quiet.chat('muted')).toEqual({ ok: false, error: 'muted' });
    quietText.send('muted too');
    await pingPong(quietText);

    expect(await call(server.url, 'DELETE', `/api/bans/${banned.id}`)).toMatchObject({ status: 200, body: banned });
    const troll = await sio(server.url, 'troll');
    expect(await troll.chat('back')).toMatchObject({ ok: true });
    await raw(server.url, 'troll');

    expect(await call(server.url, 'DELETE', `/api/bans/${muted.id}`)).toMatchObject({ status: 200, body: muted });
    quietText.send('heard at last');
    await ann.chats.expectNothingBefore((m) => m.text === 'back', 'troll’s message');
    expect(await ann.chats.next()).toMatchObject({ name: 'quiet', text: 'heard at last' });
    expect(await quiet.chat('and here')).toMatchObject({ ok: true });

    expect(await listed(server.url)).toEqual([]);
    expect(await call(server.url, 'DELETE', `/api/bans/${banned.id}`)).toEqual(expect.objectContaining({ status: 404, body: { error: 'not_found' } }));
    expect(await call(server.url, 'DELETE', '/api/bans/no-such-ban')).toEqual(expect.objectContaining({ status: 404, body: { error: 'not_found' } }));
  });
});

describe('the list', () => {
  it('pages by id: `limit` at a time, `next` to the following page, null on the last; every ban once', async () => {
    const server = await apiServer();
    const made: Ban[] = [];
    for (let i = 0; i < 5; i += 1) made.push(await ban(server.url, i % 2 === 0 ? { user: `u${i}` } : { ip: `10.0.0.${i}`, room: 'alpha' }));
    const ids = made.map((b) => b.id).sort();

    const pages: Ban[][] = [];
    let path = '/api/bans?limit=2';
    for (;;) {
      const answer = await call(server.url, 'GET', path);
      expect(answer.status).toBe(200);
      pages.push(answer.body.bans);
      if (answer.body.next === null) break;
      expect(answer.body.next).toBe(answer.body.bans.at(-1).id);
      path = `/api/bans?limit=2&after=${answer.body.next}`;
    }
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(pages.flat().map((b) => b.id)).toEqual(ids);
    expect(pages.flat()).toEqual(expect.arrayContaining(made));

    const exact = await call(server.url, 'GET', '/api/bans?limit=5');
    expect(exact.body).toEqual({ bans: pages.flat(), next: null });
    expect(await call(server.url, 'GET', `/api/bans?after=${ids[4]}`)).toMatchObject({ status: 200, body: { bans: [], next: null } });
  });
});

describe('refusals', () => {
  it('400 invalid_ban for each malformed ban, and nothing is stored or enforced', async () => {
    const server = await apiServer();
    const ann = await sio(server.url, 'ann');
    const malformed: unknown[] = [
      { user: 'ann', until: Date.now() - 1_000 }, // in the past
      { user: 'ann', until: 'tomorrow' },
      { user: 'ann', until: Date.now() + 60_000.5 }, // not whole milliseconds
      { ip: '300.1.2.3' },
      { ip: '10.0.0' },
      { ip: 'localhost' },
      { user: 'ann', room: '../etc' },
      { user: 'ann', room: 'Alpha' },
      { user: 'ann', room: 7 },
      { user: 'ann', ip: '127.0.0.1' }, // both
      { room: 'alpha' }, // neither
      {},
      { user: '' },
      { user: 'x'.repeat(257) },
      { user: 42 },
      { user: 'ann', reason: 'x'.repeat(201) },
      { user: 'ann', reason: 7 },
      { user: 'ann', kind: 'silence' },
      [],
      'ann',
    ];
    for (const json of malformed) {
      const answer = await call(server.url, 'POST', '/api/bans', { json });
      expect({ json, status: answer.status, body: answer.body }).toEqual({ json, status: 400, body: { error: 'invalid_ban' } });
    }
    expect(await call(server.url, 'POST', '/api/bans', { body: '{"user":', headers: { 'content-type': 'application/json' } })).toMatchObject({
      status: 400,
      body: { error: 'invalid_json' },
    });
    expect(await call(server.url, 'POST', '/api/bans', { body: 'user=ann', headers: { 'content-type': 'text/plain' } })).toMatchObject({
      status: 415,
    });
    expect(await listed(server.url)).toEqual([]);
    expect(await ann.chat('unaffected')).toMatchObject({ ok: true });
    // At the limits: accepted.
    expect(await ban(server.url, { user: 'x'.repeat(256), reason: 'r'.repeat(200), until: Date.now() + 60_000 })).toMatchObject({ reason: 'r'.repeat(200) });
  });

  it('a JSON null body is invalid_ban too, not a server error', async () => {
    const server = await apiServer();
    expect(await call(server.url, 'POST', '/api/bans', { body: 'null', headers: { 'content-type': 'application/json' } })).toMatchObject({
      status: 400,
      body: { error: 'invalid_ban' },
    });
  });

  it('kick: 400 invalid_ban without a user or with a long reason, invalid_room for a bad room; nobody is kicked', async () => {
    const server = await apiServer();
    const ann = await sio(server.url, 'ann');
    for (const json of [{}, { reason: 'no user' }, { user: '' }, { user: 7 }, { user: 'ann', reason: 'x'.repeat(201) }, null, ['ann']]) {
      const answer = await call(server.url, 'POST', '/api/rooms/alpha/kick', { json });
      expect({ json, status: answer.status, body: answer.body }).toEqual({ json, status: 400, body: { error: 'invalid_ban' } });
    }
    expect(await call(server.url, 'POST', '/api/rooms/Not..a.room/kick', { json: { user: 'ann' } })).toMatchObject({ status: 400, body: { error: 'invalid_room' } });
    expect(await ann.chat('still here')).toMatchObject({ ok: true });
  });

  it('404 for an unknown ban, 405 for a method a path does not take, 401 without the key, 400 for a bad page', async () => {
    const server = await apiServer();
    expect(await call(server.url, 'DELETE', '/api/bans/0000abcde-00000000')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    const put = await call(server.url, 'PUT', '/api/bans', { json: { user: 'ann' } });
    expect(put).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await call(server.url, 'GET', '/api/bans/x')).headers.get('allow')).toBe('DELETE');
    expect((await call(server.url, 'GET', '/api/rooms/alpha/kick')).headers.get('allow')).toBe('POST');
    expect(await call(server.url, 'POST', '/api/bans', { json: { user: 'ann' }, key: null })).toMatchObject({ status: 401 });
    expect(await call(server.url, 'POST', '/api/rooms/alpha/kick', { json: { user: 'ann' }, key: 'wrong' })).toMatchObject({ status: 401 });
    expect(await call(server.url, 'GET', '/api/bans?limit=0')).toMatchObject({ status: 400, body: { error: 'invalid_limit' } });
    expect(await call(server.url, 'GET', `/api/bans?after=${'x'.repeat(65)}`)).toMatchObject({ status: 400, body: { error: 'invalid_after' } });
    expect(await listed(server.url)).toEqual([]);
  });
});

describe('durable', () => {
  it('bans and mutes survive a restart (moderation.sqlite under DATA_DIR), and so does a lift', async () => {
    const dataDir = freshDataDir();
    const first = await apiServer({ DATA_DIR: dataDir });
    const banned = await ban(first.url, { user: 'troll', room: 'alpha', reason: 'abuse' });
    const muted = await ban(first.url, { kind: 'mute', user: 'quiet' });
    const byAddress = await ban(first.url, { ip: '127.0.0.2', until: Date.now() + 3_600_000 });
    await first.close();
    expect(existsSync(join(dataDir, 'moderation.sqlite'))).toBe(true);

    const second = await apiServer({ DATA_DIR: dataDir });
    expect(await listed(second.url)).toEqual([banned, muted, byAddress].sort(byId));
    expect(await rawHandshake(second.url, '/socket/alpha?name=troll')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    expect(await rawHandshake(second.url, '/socket/beta?name=x', '127.0.0.2')).toEqual({ status: 403, body: RAW_BANNED_BODY });
    const quiet = await sio(second.url, 'quiet', { room: 'beta' });
    expect(await quiet.chat('still muted?')).toEqual({ ok: false, error: 'muted' });
    expect(await call(second.url, 'DELETE', `/api/bans/${banned.id}`)).toMatchObject({ status: 200 });
    await second.close();

    const third = await apiServer({ DATA_DIR: dataDir });
    expect((await listed(third.url)).map((b) => b.id)).toEqual([muted.id, byAddress.id].sort());
    expect(await admitted(third.url, 'troll')).toBe(true);
  });
});

