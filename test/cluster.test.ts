import { textsOf, chatsOf } from './support/stored-chat';
import type { ChatMessage, RawResumeFrame } from '../server/protocol';
import { MULTI_PROCESS_START_MS, presenceAt, startNodes, type ClusterNode, type TokenFor } from './support/nodes';
import { connectRaw } from './support/raw-client';
import type { RedisProcess } from '../tools/redis-process';
import { describeWithRedis, startRedis } from './support/redis';
import { signingKey, signToken } from './support/jwt';
import { listOfRaw, listOfSio, noticesOfRaw, shown } from './support/member-list';
import { presenceFrom } from '../client/shared/presence';
import { expectRecoveredAfter } from './support/recovery';
import { RoomLog } from './support/room-log';
import { JOIN, LEAVE } from './support/seed-strings';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { waitUntil } from './support/wait';

// Each test starts two or three server processes (tsx compiles on start), on a shared machine.
jest.setTimeout(90_000);

/**
 * A node hears another node's count one bus hop after that node's notice goes out; a
 * count computed sooner may not include it yet. Waits until `node` counts `online` in
 * the lobby, as its HTTP API tells.
 */
const counts = (node: ClusterNode, online: number) =>
  waitUntil(async () => (await presenceAt(node)).online === online, `${node.url} to count ${online} in the lobby`);

describeWithRedis('several nodes on one Redis', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  beforeEach(async () => {
    await redis.flush();
  });
  const nodes = (count: number, env: Record<string, string> = {}, tokenFor?: TokenFor) =>
    startNodes(count, { REDIS_URL: redis.url, RATE_LIMIT: '0', ...env }, tokenFor);

  it('delivers every message to raw and Socket.IO clients on both nodes, whichever kind sends it from whichever node', async () => {
    const [a, b] = await nodes(2);
    const rawA = await connectRaw(a!.url, { name: 'rawA', format: 'json' });
    const sioA = await connectSio(a!.url, { auth: { name: 'sioA' } });
    const rawB = await connectRaw(b!.url, { name: 'rawB', format: 'json' });
    const sioB = await connectSio(b!.url, { auth: { name: 'sioB' } });
    const textB = await connectRaw(b!.url, { name: 'textB' });
    const logs = [RoomLog.ofRaw(rawA), RoomLog.ofSio(sioA), RoomLog.ofRaw(rawB), RoomLog.ofSio(sioB)];

    // Each sender says one thing, then a marker: a duplicate of the first would arrive
    // before the marker, which comes the same way after it.
    const send = async (text: string) => {
      rawA.send(`${text} on A`);
      await sioA.chat(`${text} on A`);
      rawB.send(`${text} on B`);
      await sioB.chat(`${text} on B`);
      textB.send(`${text} text on B`);
    };
    await send('said');
    await send('marker');

    const said = (name: string, what: string) => `${what}${name === 'textB' ? ' text' : ''} on ${name.slice(-1)}`;
    const names = ['rawA', 'sioA', 'rawB', 'sioB', 'textB'];
    const everywhere = () => logs.every((log) => names.every((name) => log.chatsFrom(name).includes(said(name, 'marker'))));
    await waitUntil(everywhere, 'every marker on every client');
    for (const log of logs) {
      for (const name of names) expect(log.chatsFrom(name)).toEqual([said(name, 'said'), said(name, 'marker')]);
    }
    const markers = names.map((name) => said(name, 'marker'));
    await waitUntil(() => markers.every((text) => textB.messages.pending.includes(text)), 'every marker on the text client');
    const expected = names.flatMap((name) => [said(name, 'said'), said(name, 'marker')]);
    expect(textB.messages.pending.filter((m) => !m.startsWith('Server: ')).sort()).toEqual(expected.sort());
  });

  it('keeps a room across two nodes for both kinds, with its history and presence, and nothing crosses rooms', async () => {
    const [a, b] = await nodes(2);
    const rawA = await connectRaw(a!.url, { name: 'ann', format: 'json' }, {}, { room: 'alpha' });
    const sioB = await connectSio(b!.url, { auth: { name: 'bob' }, room: 'alpha' });
    const lobbyB = await connectRaw(b!.url, { name: 'lobby', format: 'json' });
    const alphaA = RoomLog.ofRaw(rawA);
    const alphaB = RoomLog.ofSio(sioB);
    const lobby = RoomLog.ofRaw(lobbyB);

    rawA.send('raw on A in alpha');
    // Its echo first, so that the two messages are stamped in this order.
    await waitUntil(() => alphaA.chatsFrom('ann').length === 1, 'the raw message’s echo on A');
    expect(await sioB.chat('sio on B in alpha')).toMatchObject({ ok: true });
    await waitUntil(
      () => [alphaA, alphaB].every((log) => log.chatsFrom('ann').length === 1 && log.chatsFrom('bob').length === 1),
      'both alpha messages on both nodes',
    );
    lobbyB.send('lobby marker');
    await waitUntil(() => lobby.chatsFrom('lobby').length === 1, 'the lobby marker');
    // The marker went out after everything of alpha: none of it reached the lobby.
    expect(lobby.entries.filter((e) => e.type === 'chat').map((e) => e.text)).toEqual(['lobby marker']);
    expect(lobby.entries.filter((e) => e.name === 'ann' || e.name === 'bob')).toEqual([]);

    // A newcomer on A gets alpha's history from Redis and the members of both nodes.
    await waitUntil(async () => {
      const newcomer = await connectSio(a!.url, { auth: { name: 'cid' }, room: 'alpha' });
      const history = textsOf(await newcomer.histories.next());
      const presence = await newcomer.presences.next();
      newcomer.socket.disconnect();
      return (
        history.join('|') === 'raw on A in alpha|sio on B in alpha' &&
        JSON.stringify(presence.members) === JSON.stringify([{ name: 'ann', connections: 1 }, { name: 'bob', connections: 1 }])
      );
    }, 'alpha’s history and both nodes’ members for a newcomer on A');
  });

  it('keeps one sender’s 200 messages in order on the other node, both ways', async () => {
    const [a, b] = await nodes(2);
    const rawA = await connectRaw(a!.url, { name: 'rawA' });
    const rawB = await connectRaw(b!.url, { name: 'rawB' });
    const sioB = await connectSio(b!.url, { auth: { name: 'sioB' } });

    const fromA = Array.from({ length: 200 }, (_, i) => `A #${i}`);
    for (const text of fromA) rawA.send(text);
    expect((await sioB.chats.take(200)).map((m) => m.text)).toEqual(fromA);
    const chatsOf = (messages: readonly string[], prefix: string) => messages.filter((m) => m.startsWith(prefix) && !m.startsWith('Server: '));
    await waitUntil(() => chatsOf(rawB.messages.pending, 'A #').length === 200, '200 chats from A on B');
    expect(chatsOf(rawB.messages.pending, 'A #')).toEqual(fromA);

    const fromB = Array.from({ length: 200 }, (_, i) => `B #${i}`);
    for (const text of fromB) sioB.socket.emit('chat', text);
    await waitUntil(() => chatsOf(rawA.messages.pending, 'B #').length === 200, '200 chats from B on A');
    expect(chatsOf(rawA.messages.pending, '')).toEqual([...fromA, ...fromB]);
  });

  it('announces joins and leaves on every node, counting the clients of both nodes', async () => {
    const [a, b] = await nodes(2);
    const watcher = await connectRaw(a!.url, { name: 'watcher', format: 'json' });
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'watcher', online: 1 });
    await counts(b!, 1); // B has heard of the watcher

    const bob = await connectSio(b!.url, { auth: { name: 'bob' } });
    expect(await bob.notices.next()).toMatchObject({ kind: 'join', name: 'bob', online: 2 });
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'bob', online: 2 });

    const carol = await connectRaw(b!.url, { name: 'carol' });
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'carol', online: 3 });
    expect(await bob.notices.next()).toMatchObject({ kind: 'join', name: 'carol', online: 3 });

    const dave = await connectSio(a!.url, { auth: { name: 'dave' } });
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'dave', online: 4 });
    expect(await bob.notices.next()).toMatchObject({ kind: 'join', name: 'dave', online: 4 });
    expect(await carol.messages.take(2)).toEqual([JOIN, JOIN]);

    bob.socket.disconnect();
    expect(await watcher.nextJson()).toMatchObject({ type: 'notice', kind: 'leave', name: 'bob', online: 3 });
    expect(await carol.messages.next()).toBe(LEAVE);
    expect(await dave.notices.take(2)).toEqual([
      expect.objectContaining({ kind: 'join', name: 'dave', online: 4 }),
      expect.objectContaining({ kind: 'leave', name: 'bob', online: 3 }),
    ]);
  });

  it('gives a newcomer on any node, even one started later, the same history from Redis, bounded by HISTORY_SIZE', async () => {
    const [a, b] = await nodes(2, { HISTORY_SIZE: '3' });
    const sender = await connectRaw(a!.url, { name: 'teller' });
    const far = await connectSio(b!.url);
    for (let i = 1; i <= 5; i += 1) sender.send(`story ${i}`);
    expect((await far.chats.take(5)).map((m) => m.text)).toEqual(['story 1', 'story 2', 'story 3', 'story 4', 'story 5']);

    const c = await spawnServer({ REDIS_URL: redis.url, HISTORY_SIZE: '3' }, MULTI_PROCESS_START_MS);
    const histories: ChatMessage[][] = [];
    for (const node of [a!, b!, c]) histories.push(chatsOf(await (await connectSio(node.url)).histories.next()));
    expect(histories[0]!.map((m) => `${m.name}: ${m.text}`)).toEqual(['teller: story 3', 'teller: story 4', 'teller: story 5']);
    expect(histories[1]).toEqual(histories[0]);
    expect(histories[2]).toEqual(histories[0]);
    const ids = histories[0]!.map((m) => m.id);
    expect([...ids].sort()).toEqual(ids);
  });

  it('resumes a raw client on the other node: the chats after its last id, in order, then live', async () => {
    const [a, b] = await nodes(2);
    const before = await connectRaw(a!.url, { name: 'ann', format: 'json' });
    await before.nextJson(); // own join
    for (const text of ['one', 'two', 'three']) before.send(text);
    const seen = [await before.nextJson(), await before.nextJson(), await before.nextJson()];
    await before.close();
    await counts(b!, 0); // its leave, published by A, reaches B before the resumed client joins

    const resumed = await connectRaw(b!.url, { name: 'ann', format: 'json', since: (seen[0] as ChatMessage).id });
    expect(await resumed.nextJson()).toEqual({ type: 'chat', ...(seen[1] as ChatMessage) });
    expect(await resumed.nextJson()).toEqual({ type: 'chat', ...(seen[2] as ChatMessage) });
    expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'ann' });
    const other = await connectSio(a!.url, { auth: { name: 'bo' } });
    expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'bo' });
    await other.chat('live now');
    expect(await resumed.nextJson()).toMatchObject({ type: 'chat', text: 'live now', name: 'bo' });
  });

  it('tells a raw client resuming from an unknown id that history is incomplete, then goes live', async () => {
    const [a] = await nodes(1);
    const resumed = await connectRaw(a!.url, { format: 'json', since: '1-0' });
    const notice = JSON.parse(await resumed.messages.next()) as RawResumeFrame;
    expect(notice).toEqual({ type: 'notice', kind: 'history_incomplete', text: expect.stringContaining('no longer available'), since: '1-0', at: expect.any(Number) });
    expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join' });
  });

  it.each([['the other node'], ['the same node']])('recovers a dropped Socket.IO client on %s with the messages it missed, without history again', async (where) => {
    const [a, b] = await nodes(2);
    const sender = await connectRaw(b!.url, { name: 'sender' });
    const client = await connectSio(a!.url, { auth: { name: 'roamer' }, reconnection: true });
    sender.send('before the drop');
    expect((await client.chats.next()).text).toBe('before the drop');
    expect(await client.histories.next()).toEqual([]);

    // Back where the load balancer sends it.
    await expectRecoveredAfter(client, sender, (where === 'the other node' ? b! : a!).url, () => client.socket.io.engine.close());
  });

  it('stops counting the clients of a node that died without a word within the heartbeat window', async () => {
    const [a, b] = await nodes(2, { HEARTBEAT_MS: '1000' });
    const watcher = await connectRaw(a!.url, { name: 'watcher', format: 'json' });
    await watcher.nextJson();
    await connectRaw(b!.url, { name: 'doomed' });
    expect(await watcher.nextJson()).toMatchObject({ kind: 'join', name: 'doomed' });
    // The doomed join came over the bus, so node A knows B's count now.
    await connectRaw(a!.url, { name: 'second' });
    expect(await watcher.nextJson()).toMatchObject({ kind: 'join', name: 'second', online: 3 });

    b!.child.kill('SIGKILL');
    await b!.exited;
    // The bound is the subject: A must stop counting B's client within the heartbeat
    // window after B's last word (B spoke at most a third of a window before it died),
    // give or take a busy machine.
    await waitUntil(async () => (await presenceAt(a!)).online === 2, 'A to stop counting the dead node’s client', 3 * 1_000);
    // And A tells its clients so (the test below has the details).
    expect(await watcher.nextJson()).toMatchObject({ kind: 'leave', name: 'doomed', online: 2 });
    await connectRaw(a!.url, { name: 'later' });
    expect(await watcher.nextJson()).toMatchObject({ kind: 'join', name: 'later', online: 3 });
  });

  // A node gone without its clients' leaves: killed, or shut down (its clients leave
  // silently then). The survivor tells its own clients, one leave per connection.
  it.each([['killed with SIGKILL', 'SIGKILL'] as const, ['shut down with SIGTERM', 'SIGTERM'] as const])(
    'tells its raw and Socket.IO clients of one leave per connection of a node %s, within the heartbeat window',
    async (_how, signal) => {
      const heartbeatMs = 2_000;
      const [a, b] = await nodes(2, { HEARTBEAT_MS: String(heartbeatMs) });
      const room = 'alpha';
      // The raw client joins first, so that its list (kept from notices alone) has everyone.
      const ann = await connectRaw(a!.url, { name: 'ann', format: 'json' }, {}, { room });
      await waitUntil(() => shown(listOfRaw(ann)).includes('ann'), 'ann’s own join');
      const amy = await connectSio(a!.url, { auth: { name: 'amy' }, room });
      await connectRaw(b!.url, { name: 'bob', format: 'json' }, {}, { room });
      await connectSio(b!.url, { auth: { name: 'bob' }, room });
      await connectSio(b!.url, { auth: { name: 'cid' }, room });
      await connectRaw(b!.url, { name: 'dan' }, {}, { room });
      const everyone = ['amy', 'ann', 'bob ×2', 'cid', 'dan'];
      await waitUntil(
        () => shown(listOfRaw(ann)).join() === everyone.join() && shown(listOfSio(amy)).join() === everyone.join(),
        'both clients on A to list the six connections',
      );
      const toldBefore = { ann: noticesOfRaw(ann).length, amy: amy.notices.pending.length };

      b!.child.kill(signal);
      await b!.exited;
      // The bound is the subject: B spoke at most a third of a window before it died, so
      // A gives up on it within a window of its death, give or take a busy machine.
      const lists = () => [shown(listOfRaw(ann)), shown(listOfSio(amy))];
      await waitUntil(() => lists().every((list) => list.join() === 'amy,ann'), 'both lists on A down to the survivors', heartbeatMs + 2_000).catch(
        () => undefined, // the lists, as they are then, say what went wrong
      );
      expect(lists()).toEqual([
        ['amy', 'ann'],
        ['amy', 'ann'],
      ]);
      // Exactly one leave per connection: a newcomer's join, announced after them, is the
      // marker that nothing more is on its way.
      await connectRaw(a!.url, { name: 'eve' }, {}, { room });
      await waitUntil(
        () => shown(listOfRaw(ann)).includes('eve') && shown(listOfSio(amy)).includes('eve'),
        'eve’s join on both clients on A',
      );
      for (const told of [noticesOfRaw(ann).slice(toldBefore.ann), amy.notices.pending.slice(toldBefore.amy)]) {
        const leaves = told.slice(0, -1);
        expect(leaves.map((n) => [n.kind, n.name, n.online]).sort()).toEqual([
          ['leave', 'bob', 2],
          ['leave', 'bob', 2],
          ['leave', 'cid', 2],
          ['leave', 'dan', 2],
        ]);
        expect(told.at(-1)).toMatchObject({ kind: 'join', name: 'eve', online: 3 });
      }
      expect(shown(listOfRaw(ann))).toEqual(['amy', 'ann', 'eve']);
      expect(shown(listOfSio(amy))).toEqual(['amy', 'ann', 'eve']);
    },
  );

  it('keeps two users who show the same name apart on every node: notices and reports carry the user', async () => {
    const key = await signingKey('HS256');
    const token = (sub: string, name: string) => signToken(key, { sub, name });
    const env = { ...key.env, HEARTBEAT_MS: '1500' };
    const [a, b] = await nodes(2, env, (name) => token(name, name));
    const room = 'alpha';
    const watcher = await connectRaw(a!.url, { token: await token('user-watch', 'watch'), format: 'json' }, {}, { room });
    await waitUntil(() => listOfRaw(watcher).members.length === 1, 'the watcher’s own join');
    await connectSio(b!.url, { auth: { token: await token('user-alice', 'alice') }, room });
    const impostor = await connectRaw(b!.url, { token: await token('user-mallory', 'al\nice'), format: 'json' }, {}, { room });

    // Across the bus, in notices: the watcher's list, and whom A counts.
    const members = [
      { name: 'alice', user: 'user-alice', connections: 1 },
      { name: 'alice', user: 'user-mallory', connections: 1 },
      { name: 'watch', user: 'user-watch', connections: 1 },
    ];
    const rows = ['alice (user-alice)', 'alice (user-mallory)', 'watch (user-watch)'];
    // The list, as it is when the wait gives up, says what went wrong.
    await waitUntil(() => shown(listOfRaw(watcher)).join() === rows.join(), 'the watcher to list both alices').catch(() => undefined);
    expect(shown(listOfRaw(watcher))).toEqual(rows);
    await waitUntil(async () => (await presenceAt(a!, room)).online === 3, 'A to count three');
    expect(await presenceAt(a!, room)).toEqual({ online: 3, members });

    // In reports: a node started now knows the others' clients from their reports alone.
    const c = await spawnServer({ REDIS_URL: redis.url, RATE_LIMIT: '0', ...env }, MULTI_PROCESS_START_MS);
    let newcomerRows: string[] = [];
    await waitUntil(async () => {
      const newcomer = await connectSio(c.url, { auth: { token: await token('user-new', 'new') }, room });
      const presence = await newcomer.presences.next();
      newcomer.socket.disconnect();
      newcomerRows = shown(presenceFrom(presence));
      return presence.online === 3;
    }, 'a newcomer on C to be told of the three').catch(() => undefined);
    expect(newcomerRows).toEqual(rows);

    impostor.ws.close();
    const rest = ['alice (user-alice)', 'watch (user-watch)'];
    await waitUntil(() => shown(listOfRaw(watcher)).join() === rest.join(), 'the watcher to list one alice').catch(() => undefined);
    expect(shown(listOfRaw(watcher))).toEqual(rest);
    await waitUntil(async () => (await presenceAt(a!, room)).online === 2, 'A to count two');
    expect(await presenceAt(a!, room)).toEqual({ online: 2, members: [members[0], members[2]] });
  });
});
