/**
 * Rooms: any number of them, for both kinds of client. Every test has its own server;
 * "nothing crosses" is shown with a marker sent after the thing that must not arrive.
 */
import { textsOf } from './support/stored-chat';
import { io, Manager } from 'socket.io-client';
import { MAX_ROOMS_PER_CONNECTION, SOCKET_IO_PATH, type RawJsonFrame } from '../server/protocol';
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { waitUntil } from './support/wait';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { onCleanup } from './support/cleanup';

/** Chat texts a raw JSON client receives until (and with) `marker`. */
async function chatsUntil(client: RawTestClient, marker: string): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const frame: RawJsonFrame = await client.nextJson();
    if (frame.type !== 'chat') continue;
    texts.push(frame.text);
    if (frame.text === marker) return texts;
  }
}

/** One sample of /metrics, as an operator reads it. */
async function sample(url: string, line: RegExp): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  const match = line.exec(body);
  return match ? Number(match[1]) : Number.NaN;
}

describe('rooms', () => {
  it('keeps each room’s messages in that room, for raw and Socket.IO clients alike', async () => {
    const server = await startTestServer();
    const rawAlpha = await connectRaw(server.url, { name: 'raw-alpha', format: 'json' }, {}, { room: 'alpha' });
    const sioAlpha = await connectSio(server.url, { auth: { name: 'sio-alpha' }, room: 'alpha' });
    const rawBeta = await connectRaw(server.url, { name: 'raw-beta', format: 'json' }, {}, { room: 'beta' });
    const lobby = await connectRaw(server.url, { name: 'in-lobby', format: 'json' });

    rawAlpha.send('from raw in alpha');
    expect(await sioAlpha.chat('from sio in alpha')).toMatchObject({ ok: true });
    rawBeta.send('beta marker');
    lobby.send('lobby marker');

    expect(await chatsUntil(rawAlpha, 'from sio in alpha')).toEqual(['from raw in alpha', 'from sio in alpha']);
    expect((await sioAlpha.chats.take(2)).map((m) => m.text)).toEqual(['from raw in alpha', 'from sio in alpha']);
    // Each marker was sent after alpha's messages: had those crossed, they would be first.
    expect(await chatsUntil(rawBeta, 'beta marker')).toEqual(['beta marker']);
    expect(await chatsUntil(lobby, 'lobby marker')).toEqual(['lobby marker']);
  });

  it('counts online per room, and gives a Socket.IO newcomer that room’s history and presence', async () => {
    const server = await startTestServer();
    const first = await connectRaw(server.url, { name: 'ann', format: 'json' }, {}, { room: 'alpha' });
    const second = await connectRaw(server.url, { name: 'ann', format: 'json' }, {}, { room: 'alpha' });
    await connectRaw(server.url, { name: 'bob' }, {}, { room: 'beta' });
    first.send('kept in alpha');
    await chatsUntil(second, 'kept in alpha');

    const newcomer = await connectSio(server.url, { auth: { name: 'cid' }, room: 'alpha' });
    expect(textsOf(await newcomer.histories.next())).toEqual(['kept in alpha']);
    // ann twice (two connections), and nobody from beta or the lobby.
    expect(await newcomer.presences.next()).toEqual({ online: 2, members: [{ name: 'ann', connections: 2 }] });
    expect(await newcomer.notices.next()).toMatchObject({ kind: 'join', name: 'cid', online: 3 });
  });

  it('treats /socket/lobby and the namespace /lobby as the lobby, in the seed’s exact words', async () => {
    const server = await startTestServer();
    const seed = await connectRaw(server.url);
    expect(await seed.messages.next()).toBe(JOIN);
    const alias = await connectRaw(server.url, {}, {}, { room: 'lobby' });
    expect(await seed.messages.next()).toBe(JOIN);
    expect(await alias.messages.next()).toBe(JOIN);
    const root = await connectSio(server.url, { auth: { name: 'root' } });
    const named = await connectSio(server.url, { auth: { name: 'named' }, room: 'lobby' });

    alias.send('through the alias');
    expect(await seed.messages.next()).toBe(JOIN); // root
    expect(await seed.messages.next()).toBe(JOIN); // named
    expect(await seed.messages.next()).toBe('through the alias');
    await named.chat('through /lobby');
    expect(await seed.messages.next()).toBe('through /lobby');
    await waitUntil(
      () => root.chats.pending.map((m) => m.text).join() === 'through the alias,through /lobby',
      'both messages at the client of namespace /',
    );
  });

  it.each([
    ['upper case', '/socket/Alpha'],
    ['two dots', '/socket/a..b'],
    ['a dot first', '/socket/.hidden'],
    ['an encoded slash', '/socket/a%2Fb'],
    ['a slash', '/socket/a/b'],
    ['a control character', '/socket/a%01b'],
    ['65 characters', `/socket/${'a'.repeat(65)}`],
    ['nothing', '/socket/'],
  ])('refuses a raw room name with %s with HTTP 400 before the upgrade', async (_, path) => {
    const server = await startTestServer();
    expect(await upgradeStatus(server.url, path)).toBe(400);
  });

  it.each([['/Alpha'], ['/a..b'], ['/-x'], [`/${'a'.repeat(65)}`]])(
    'refuses the Socket.IO namespace %s with a connect_error',
    async (namespace) => {
      const server = await startTestServer();
      // By hand: the project's own clients refuse a malformed name before sending it.
      const socket = io(`${server.url}${namespace}`, { path: SOCKET_IO_PATH, transports: ['websocket'], forceNew: true, reconnection: false });
      onCleanup('clients', () => socket.close());
      const refusal = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
      expect(refusal.message).toBe('Invalid namespace');
    },
  );

  it('refuses a new room past MAX_ROOMS while every room has clients, and makes room once one is empty', async () => {
    // The lobby is always open; MAX_ROOMS=2 leaves one place beside it.
    const server = await startTestServer({ MAX_ROOMS: '2' });
    const alpha = await connectRaw(server.url, { name: 'a' }, {}, { room: 'alpha' });
    expect(await upgradeStatus(server.url, '/socket/beta')).toBe(503);
    await expect(connectSio(server.url, { room: 'beta' })).rejects.toThrow('room_limit');
    // The lobby still takes everyone.
    expect(await upgradeStatus(server.url, '/socket')).toBe(101);

    await alpha.close();
    // alpha is empty now: it leaves memory for beta.
    await waitUntil(async () => (await upgradeStatus(server.url, '/socket/beta')) === 101, 'beta to open');
    expect(await sample(server.url, /^chat_rooms (\d+)$/m)).toBeLessThanOrEqual(2);
  });

  it('keeps rooms in memory bounded when one client opens thousands of them', async () => {
    const server = await startTestServer({ MAX_ROOMS: '20', RATE_LIMIT: '0' });
    const observer = await connectRaw(server.url, { name: 'observer', format: 'json' }, {}, { room: 'stay' });
    for (let i = 0; i < 300; i += 1) {
      const visitor = await connectRaw(server.url, { name: 'visitor' }, {}, { room: `room-${i}` });
      visitor.send(`hello room ${i}`);
      await visitor.close();
    }
    expect(await sample(server.url, /^chat_rooms (\d+)$/m)).toBeLessThanOrEqual(20);
    // The room with a client in it was never dropped: it still works.
    observer.send('still here');
    expect(await chatsUntil(observer, 'still here')).toEqual(['still here']);
  });

  it('lets one Socket.IO connection be in several rooms, up to MAX_ROOMS_PER_CONNECTION', async () => {
    const server = await startTestServer();
    const manager = new Manager(server.url, { path: SOCKET_IO_PATH, transports: ['websocket'], reconnection: false });
    onCleanup('clients', () => manager.engine?.close());
    const join = (room: string) =>
      new Promise<void>((resolve, reject) => {
        const socket = manager.socket(`/${room}`, { auth: { name: 'multi' } });
        socket.once('connect', () => resolve());
        socket.once('connect_error', (err) => reject(err));
      });
    // All at once: each join is counted when it is let through, not when it completes.
    const asked = Array.from({ length: MAX_ROOMS_PER_CONNECTION + 10 }, (_, i) => join(`many-${i}`));
    const answers = await Promise.allSettled(asked);
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(MAX_ROOMS_PER_CONNECTION);
    expect(
      answers.flatMap((a) => (a.status === 'rejected' ? [(a.reason as Error).message] : [])),
    ).toEqual(Array(10).fill('too_many_rooms'));

    // Each of its rooms hears it join, over the one connection.
    const watcher = await connectRaw(server.url, { name: 'watcher', format: 'json' }, {}, { room: 'many-7' });
    watcher.send('marker');
    const frames: RawJsonFrame[] = [];
    for (;;) {
      const frame = await watcher.nextJson();
      frames.push(frame);
      if (frame.type === 'chat') break;
    }
    // many-7 may be one of the ten refused; whichever rooms joined, the one connection is in each once.
    const inRoom = answers[7]?.status === 'fulfilled' ? 1 : 0;
    expect(frames[0]).toMatchObject({ type: 'notice', kind: 'join', name: 'watcher', online: inRoom + 1 });
  });

  it('relays typing within the room only', async () => {
    const server = await startTestServer();
    const typist = await connectSio(server.url, { auth: { name: 'typist' }, room: 'alpha' });
    const sameRoom = await connectSio(server.url, { auth: { name: 'same' }, room: 'alpha' });
    const otherRoom = await connectSio(server.url, { auth: { name: 'other' }, room: 'beta' });
    typist.socket.emit('typing');
    expect(await sameRoom.typings.next()).toEqual({ name: 'typist' });
    await otherRoom.chat('marker');
    await otherRoom.chats.next();
    expect(otherRoom.typings.pending).toEqual([]);
  });

  it('resumes a raw client with ?since= from its room’s history', async () => {
    const server = await startTestServer();
    const writer = await connectRaw(server.url, { name: 'w', format: 'json' }, {}, { room: 'alpha' });
    for (const text of ['one', 'two', 'three']) writer.send(text);
    await chatsUntil(writer, 'three');
    const ids: string[] = [];
    const again = await connectSio(server.url, { room: 'alpha' });
    for (const message of await again.histories.next()) ids.push(message.id);
    const resumed = await connectRaw(server.url, { format: 'json', since: ids[0] as string }, {}, { room: 'alpha' });
    expect((await resumed.nextJson()) as unknown).toMatchObject({ type: 'chat', text: 'two' });
    expect((await resumed.nextJson()) as unknown).toMatchObject({ type: 'chat', text: 'three' });
    // The same id means nothing in another room.
    const elsewhere = await connectRaw(server.url, { format: 'json', since: ids[0] as string }, {}, { room: 'beta' });
    expect((await elsewhere.nextJson()) as unknown).toMatchObject({ type: 'notice', kind: 'history_incomplete' });
  });
});
