import calculateSlot from 'cluster-key-slot';
import type { ChatMessage } from '../server/protocol';
import { idParts } from '../server/store/message-id';
import type { RedisClusterProcess } from '../tools/redis-cluster-process';
import { httpGet } from './support/http-upgrade';
import { linked, presenceAt, startNodes, type ClusterNode } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { expectRecoveredAfter } from './support/recovery';
import { describeWithRedisCluster, startRedisCluster } from './support/redis-cluster';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

// Each test starts two server processes (tsx compiles on start) and a three-master cluster.
jest.setTimeout(90_000);

/** A room whose keys share a slot with `room`'s: two rooms that take their ids from one stream. */
function roomInSlotOf(room: string): string {
  for (let n = 0; ; n += 1) if (calculateSlot(`room-${n}`) === calculateSlot(room)) return `room-${n}`;
}

/** The slot each of the cluster's masters starts at (CLUSTER SHARDS would say more; three masters split 16384 evenly). */
const MASTER_OF_SLOT = (slot: number) => Math.floor(slot / (16_384 / 3));

describeWithRedisCluster('several nodes on a Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  const nodes = (env: Record<string, string> = {}) =>
    startNodes(2, { REDIS_URL: cluster.url, REDIS_CLUSTER: '1', RATE_LIMIT: '0', ...env }) as Promise<[ClusterNode, ClusterNode]>;

  // One cluster for the file; each test has rooms of its own.
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });

  it('carries both kinds across nodes in rooms on different masters, with history, presence, and nothing crossing rooms', async () => {
    // The rooms' keys (history, channels) live on different masters of the cluster.
    expect(new Set(['alpha', 'beta', 'lobby'].map((room) => MASTER_OF_SLOT(calculateSlot(room)))).size).toBe(3);
    const [a, b] = await nodes();
    for (const room of ['alpha', 'beta']) {
      const raw = await connectRaw(a.url, { name: `raw-${room}`, format: 'json' }, {}, { room });
      expect(await raw.nextJson()).toMatchObject({ kind: 'join', name: `raw-${room}` });
      // B counts A's member one bus hop after A's notice: a join on B counted sooner would not include it.
      await waitUntil(async () => (await presenceAt(b, room)).online === 1, `${b.url} to count raw-${room}`);
      const sio = await connectSio(b.url, { auth: { name: `sio-${room}` }, room });
      expect(await raw.nextJson()).toMatchObject({ kind: 'join', name: `sio-${room}`, online: 2 });
      raw.send(`raw says ${room}`);
      await sio.chat(`sio says ${room}`);
      const rawChats = [await raw.nextJson(), await raw.nextJson()];
      expect(rawChats.map((frame) => (frame as ChatMessage).text).sort()).toEqual([`raw says ${room}`, `sio says ${room}`]);
      expect((await sio.chats.take(2)).map((m) => m.text).sort()).toEqual([`raw says ${room}`, `sio says ${room}`]);
      // Both nodes count both members, whichever node holds them.
      for (const node of [a, b]) await waitUntil(async () => (await presenceAt(node, room)).online === 2, `${node.url} to count 2 in ${room}`);
    }

    // A newcomer on either node gets each room's history, and only that room's.
    for (const [node, room] of [[a, 'beta'], [b, 'alpha']] as const) {
      const newcomer = await connectSio(node.url, { auth: { name: 'newcomer' }, room });
      expect((await newcomer.histories.next()).map((m) => (m as ChatMessage).text).sort()).toEqual([`raw says ${room}`, `sio says ${room}`]);
    }
  });

  it('gives ids unique across rooms, those of one slot included, and ordered within each room', async () => {
    const [a, b] = await nodes();
    const rooms = ['gamma', roomInSlotOf('gamma'), 'delta'];
    const senders = await Promise.all(rooms.map((room, i) => connectSio((i % 2 === 0 ? a : b).url, { auth: { name: `s${i}` }, room })));
    // Every room's messages at once, from both nodes: the same millisecond in several rooms of one slot.
    const acks = await Promise.all(senders.flatMap((sender) => Array.from({ length: 50 }, (_, n) => sender.chat(`m${n}`))));
    const ids = acks.map((ack) => {
      if (!ack.ok) throw new Error(`refused: ${ack.error}`);
      return ack.id;
    });
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, room] of rooms.entries()) {
      const reader = await connectSio(b.url, { auth: { name: 'reader' }, room });
      const history = (await reader.histories.next()) as ChatMessage[];
      const roomIds = history.map((m) => m.id);
      expect(history.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, n) => `m${n}`));
      const sorted = [...roomIds].sort((x, y) => {
        const [xm, xs] = idParts(x)!;
        const [ym, ys] = idParts(y)!;
        return xm - ym || xs - ys;
      });
      expect(roomIds).toEqual(sorted);
      expect(roomIds).toEqual(ids.slice(i * 50, (i + 1) * 50));
    }
  });

  it('resumes a raw client on the other node from its last id (?since=), then goes live', async () => {
    const [a, b] = await nodes();
    const before = await connectRaw(a.url, { name: 'ann', format: 'json' }, {}, { room: 'epsilon' });
    await before.nextJson(); // own join
    for (const text of ['one', 'two', 'three']) before.send(text);
    const seen = [await before.nextJson(), await before.nextJson(), await before.nextJson()] as ChatMessage[];
    await before.close();
    await waitUntil(async () => (await presenceAt(b, 'epsilon')).online === 0, 'B to see ann leave');

    const resumed = await connectRaw(b.url, { name: 'ann', format: 'json', since: seen[0]!.id }, {}, { room: 'epsilon' });
    expect(await resumed.nextJson()).toEqual({ type: 'chat', ...seen[1] });
    expect(await resumed.nextJson()).toEqual({ type: 'chat', ...seen[2] });
    expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'ann' });
    // On a cluster a join (on every node's channel) and a chat (on the room's) are not in
    // order with each other (docs/deploy.md): the chat is sent once the join is in.
    const other = await connectSio(a.url, { auth: { name: 'bo' }, room: 'epsilon' });
    expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'bo' });
    await other.chat('live now');
    expect(await resumed.nextJson()).toMatchObject({ type: 'chat', text: 'live now', name: 'bo' });
  });

  it('recovers a Socket.IO client on the other node, with what it missed, after the node that served it is killed with kill -9', async () => {
    const [a, b] = await nodes();
    const sender = await connectRaw(b.url, { name: 'sender' }, {}, { room: 'zeta' });
    const client = await connectSio(a.url, { auth: { name: 'roamer' }, room: 'zeta', reconnection: true });
    expect(await client.histories.next()).toEqual([]);
    sender.send('before the kill');
    expect((await client.chats.next()).text).toBe('before the kill');

    // Back where the load balancer sends it once A is gone.
    await expectRecoveredAfter(client, sender, b.url, async () => {
      a.child.kill('SIGKILL');
      await a.exited;
    });
  });

  it('keeps each node serving its own clients while a master of the cluster is down, and links the nodes again when it is back', async () => {
    // A cluster of its own: one of its masters is killed.
    const own = await startRedisCluster();
    const [a, b] = (await startNodes(2, { REDIS_URL: own.url, REDIS_CLUSTER: '1' })) as [ClusterNode, ClusterNode];
    const rawA = await connectRaw(a.url, { name: 'rawA' });
    const sioA = await connectSio(a.url, { auth: { name: 'sioA' } });
    const rawB = await connectRaw(b.url, { name: 'rawB' });
    const texts = (messages: readonly string[]) => messages.filter((m) => !m.startsWith('Server: '));

    // A Redis Cluster with a master gone serves no slot at all (full coverage, the default).
    await own.killNode(1);
    for (const node of [a, b]) {
      await waitUntil(async () => (await httpGet(`${node.url}/readyz`)).status === 503, `node ${node.url} to say redis is unreachable`);
    }
    rawA.send('A while a master is down');
    expect((await sioA.chats.next()).text).toBe('A while a master is down');
    await waitUntil(() => texts(rawA.messages.pending).includes('A while a master is down'), 'raw client on A gets it');
    for (const node of [a, b]) expect(node.child.exitCode).toBeNull();

    await own.startNode(1);
    for (const node of [a, b]) {
      await waitUntil(async () => (await httpGet(`${node.url}/readyz`)).status === 200, `node ${node.url} ready again`);
    }
    await linked([a, b]);
    rawA.send('A after the outage');
    await waitUntil(() => texts(rawB.messages.pending).includes('A after the outage'), 'raw client on B hears A again');
    expect((await sioA.chats.next()).text).toBe('A after the outage');
    // What was said during the outage stayed on its node.
    expect(texts(rawB.messages.pending)).not.toContain('A while a master is down');
  });

  it('comes back when every master of the cluster was down for longer than node-redis waits for any of them', async () => {
    const own = await startRedisCluster();
    const [a, b] = (await startNodes(2, { REDIS_URL: own.url, REDIS_CLUSTER: '1', LOG_LEVEL: 'debug' })) as [ClusterNode, ClusterNode];
    const rawB = await connectRaw(b.url, { name: 'rawB' });
    await Promise.all([0, 1, 2].map((i) => own.killNode(i)));
    // The cluster's own error, not one node's: node-redis could reach none of them.
    const clusterDown = (node: ClusterNode) =>
      node.lines.some((line) => line.includes('"redis still unreachable"') && line.includes('"role":"history"') && !line.includes('"node":'));
    for (const node of [a, b]) await waitUntil(() => clusterDown(node), `${node.url} to find no node of the cluster`, 20_000);

    await Promise.all([0, 1, 2].map((i) => own.startNode(i)));
    for (const node of [a, b]) {
      await waitUntil(async () => (await httpGet(`${node.url}/readyz`)).status === 200, `node ${node.url} ready again`, 20_000);
    }
    await linked([a, b]);
    const rawA = await connectRaw(a.url, { name: 'rawA' });
    rawA.send('after the whole cluster was back');
    await waitUntil(() => rawB.messages.pending.includes('after the whole cluster was back'), 'raw client on B hears A');
  });
  it('carries every message to the other node, and stores it, while the room’s slot moves between masters', async () => {
    // A room's channel moves with its slot, and what is published while the nodes
    // subscribe again on the new master reaches no node: the other node notices the gap at
    // the next message, or the last ones at the next presence snapshot (a third of
    // HEARTBEAT_MS), and shows them from the stored history.
    const [a, b] = await nodes({ HEARTBEAT_MS: '3000' });
    const room = 'moving-room';
    const talker = await connectRaw(a.url, { name: 'talker', format: 'json' }, {}, { room });
    expect(await talker.nextJson()).toMatchObject({ kind: 'join', name: 'talker' });
    await waitUntil(async () => (await presenceAt(b, room)).online === 1, 'B to count the talker');
    const listener = await connectRaw(b.url, { name: 'listener', format: 'json' }, {}, { room });
    expect(await listener.nextJson()).toMatchObject({ kind: 'join', name: 'listener' });
    expect(await talker.nextJson()).toMatchObject({ kind: 'join', name: 'listener' });
    let sent = 0;
    const sending = setInterval(() => talker.send(`m${(sent += 1)}`), 5);
    try {
      for (const to of [1, 2, 0, 1, 2, 0, 1, 2]) await cluster.moveSlot(calculateSlot(room), to, 1);
    } finally {
      clearInterval(sending);
    }
    const texts = Array.from({ length: sent }, (_, i) => `m${i + 1}`);
    const chatsOf = async (client: typeof talker) => {
      const chats: ChatMessage[] = [];
      while (chats.length < sent) {
        const frame = await client.nextJson();
        if (!('kind' in frame)) chats.push(frame as ChatMessage);
      }
      return chats;
    };
    const echoes = await chatsOf(talker);
    expect(echoes.map((m) => m.text)).toEqual(texts);
    // Stored in Redis: an id stamped in an outage has a sequence of 2^32 or more.
    expect(echoes.filter((m) => idParts(m.id)![1] >= 2 ** 32)).toEqual([]);
    expect((await chatsOf(listener)).map((m) => m.text)).toEqual(texts);
  });

  it("shows a raw client on the other node a member's join before that member's first message", async () => {
    const [a, b] = await nodes();
    await linked([a, b]);
    const room = 'epsilon';
    const observer = await connectRaw(b.url, { name: 'observer', format: 'json' }, {}, { room });
    expect(await observer.nextJson()).toMatchObject({ kind: 'join', name: 'observer' });
    for (let i = 0; i < 20; i += 1) {
      // A member that speaks as soon as it is in.
      const member = await connectRaw(a.url, { name: `m${i}`, format: 'json' }, {}, { room });
      member.send(`hello ${i}`);
      expect(await observer.nextJson()).toMatchObject({ kind: 'join', name: `m${i}` });
      expect(await observer.nextJson()).toMatchObject({ text: `hello ${i}`, name: `m${i}` });
      await member.close();
      expect(await observer.nextJson()).toMatchObject({ kind: 'leave', name: `m${i}` });
    }
  });
});
