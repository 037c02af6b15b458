/**
 * Webhooks of a cluster (issue #23): server processes on one redis-server, all posting to
 * one receiver process, deliver each event once between them, count a member's tabs on
 * every node as one member, and when the node delivering is killed mid-batch the other
 * delivers everything that was acknowledged and lets the dead node's members go.
 */
import { LEASE_MS } from '../server/hooks/webhook-delivery';
import type { Presence } from '../server/protocol';
import { compareIds } from '../server/store/message-id';
import { API_TEST_KEY, postMessage } from './support/api';
import { signingKey, signToken } from './support/jwt';
import { presenceAt, startNodes, type ClusterNode, type TokenFor } from './support/nodes';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';
import { connectSio, type SioTestClient } from './support/sio-client';
import { waitUntil } from './support/wait';
import { newWebhookSecret, startReceiver, type ReceivedEvent, type WebhookReceiver } from './support/webhook-receiver';

// Each test starts a redis-server, a receiver and two server processes (tsx compiles on start).
jest.setTimeout(90_000);

/** How long a dead node's members may take to leave: its heartbeat's TTL, a beat of the others, and room to spare. */
const REAP_WAIT_MS = 40_000;

interface Cluster {
  receiver: WebhookReceiver;
  nodes: ClusterNode[];
}

/** A redis-server, a receiver, and `count` nodes posting to it with the same secret. */
async function startCluster(count: number, env: Record<string, string> = {}, tokenFor?: TokenFor): Promise<Cluster> {
  const secret = newWebhookSecret();
  const [redis, receiver] = await Promise.all([startRedis(), startReceiver({ secret })]);
  const nodes = await startNodes(
    count,
    { REDIS_URL: redis.url, RATE_LIMIT: '0', API_KEY: API_TEST_KEY, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: secret, ...env },
    tokenFor,
  );
  return { receiver, nodes };
}

const ofType = (events: readonly ReceivedEvent[], type: string, room?: string) =>
  events.filter((event) => event.type === type && (room === undefined || event.room === room));

/** The message ids of the accepted `message.created` events (of `room`), in the order they came. */
const createdIds = (receiver: WebhookReceiver, room?: string) => ofType(receiver.accepted(), 'message.created', room).map((event) => event.data.id as string);

/** The values that occur more than once in `values`. */
function repeated(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((value) => seen.has(value) || !seen.add(value));
}

/** `ids` without their repeats, each where it first came. */
const firstOccurrences = (ids: readonly string[]) => [...new Set(ids)];

/** Resolves once the receiver has accepted a `message.created` for every one of `ids`. */
function eventsOf(receiver: WebhookReceiver, ids: readonly string[], what: string, timeoutMs?: number): Promise<void> {
  return receiver.waitFor(
    () => {
      const got = new Set(createdIds(receiver));
      return ids.every((id) => got.has(id));
    },
    what,
    timeoutMs,
  );
}

/** A raw JSON client with acks in `room`, once it has joined (a frame sent before is refused `not_joined`). */
async function joinedRaw(url: string, room: string, query: Record<string, string>): Promise<RawTestClient> {
  const client = await connectRaw(url, { format: 'json', ack: '1', ...query }, {}, { room });
  for (;;) {
    const frame = JSON.parse(await client.messages.next(10_000)) as { type: string };
    if (frame.type === 'notice') return client;
  }
}

/** Sends `texts` on a raw JSON client with acks and resolves with their ids, in order. */
async function postRaw(client: RawTestClient, texts: readonly string[]): Promise<string[]> {
  for (const text of texts) client.send(text);
  const ids: string[] = [];
  while (ids.length < texts.length) {
    const frame = JSON.parse(await client.messages.next(10_000)) as { type: string; id?: string };
    if (frame.type !== 'ack' && frame.type !== 'error') continue;
    if (frame.id === undefined) throw new Error(`a raw message was refused: ${JSON.stringify(frame)}`);
    ids.push(frame.id);
  }
  return ids;
}

/** Sends `texts` on a Socket.IO client and resolves with their ids, in order. */
async function postSio(client: SioTestClient, texts: readonly string[]): Promise<string[]> {
  const acks = await Promise.all(texts.map((text) => client.chat(text)));
  return acks.map((ack) => {
    if (!ack.ok) throw new Error(`a Socket.IO message was refused: ${JSON.stringify(ack)}`);
    return ack.id;
  });
}

/** The sample's value in a node's /metrics (0 when absent). */
async function metric(node: ClusterNode, sample: string): Promise<number> {
  const body = await (await fetch(`${node.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/**
 * A message posted through `node`'s HTTP API, resolved once the receiver has its event.
 * Everything `node` recorded before the post is ahead of it in the outbox (one connection
 * to Redis, commands run in order), so it marks how far the receiver has got.
 */
async function marker(receiver: WebhookReceiver, node: ClusterNode, room: string): Promise<void> {
  const posted = await postMessage(node.url, room, { text: 'marker', name: 'backend' });
  expect(posted.status).toBe(201);
  await eventsOf(receiver, [posted.body.id], `the marker posted on ${node.url}`);
}

describeWithRedis('webhooks of two nodes on one Redis', () => {
  it('delivers each message.created once, in order per room, whichever node and kind of client posted it', async () => {
    const { receiver, nodes } = await startCluster(2);
    const [a, b] = nodes as [ClusterNode, ClusterNode];
    const perSender = 30;
    const rooms = ['alpha', 'beta'];
    const senders: { room: string; name: string; post: (texts: readonly string[]) => Promise<string[]> }[] = [];
    for (const room of rooms) {
      for (const [label, node] of [['A', a], ['B', b]] as const) {
        const raw = await joinedRaw(node.url, room, { name: `raw${label}-${room}` });
        const sio = await connectSio(node.url, { auth: { name: `sio${label}-${room}` }, room });
        senders.push({ room, name: `raw${label}-${room}`, post: (texts) => postRaw(raw, texts) });
        senders.push({ room, name: `sio${label}-${room}`, post: (texts) => postSio(sio, texts) });
      }
    }

    const posted = new Map<string, { room: string; name: string; text: string }>();
    await Promise.all(
      senders.map(async ({ room, name, post }) => {
        const texts = Array.from({ length: perSender }, (_, i) => `${name} #${i}`);
        const ids = await post(texts);
        ids.forEach((id, i) => posted.set(id, { room, name, text: texts[i] as string }));
      }),
    );
    expect(posted.size).toBe(senders.length * perSender);
    await eventsOf(receiver, [...posted.keys()], `the ${posted.size} messages' events`);
    // Markers after every message, then an empty outbox: nothing is left for either node to send.
    await Promise.all(rooms.flatMap((room) => [marker(receiver, a, room), marker(receiver, b, room)]));
    await waitUntil(
      async () => (await metric(a, 'chat_webhook_queue_events')) === 0 && (await metric(b, 'chat_webhook_queue_events')) === 0,
      'the outbox to be empty, as both nodes tell',
    );

    const accepted = receiver.accepted();
    expect(receiver.invalid).toEqual([]);
    expect(receiver.batches.filter((batch) => batch.status !== 204)).toEqual([]);
    expect(Math.max(...receiver.batches.map((batch) => batch.events.length))).toBeLessThanOrEqual(100);
    // Once per event, and one event per message.
    expect(repeated(accepted.map((event) => event.id))).toEqual([]);
    expect(repeated(createdIds(receiver))).toEqual([]);
    for (const event of ofType(accepted, 'message.created')) {
      const sent = posted.get(event.data.id as string);
      if (sent === undefined) continue; // a marker
      expect(event).toMatchObject({ room: sent.room, data: { id: event.data.id, name: sent.name, text: sent.text, at: expect.any(Number) } });
    }
    for (const room of rooms) {
      const inRoom = createdIds(receiver, room);
      expect(inRoom).toEqual([...inRoom].sort(compareIds));
      for (const { name } of senders.filter((sender) => sender.room === room)) {
        const texts = ofType(accepted, 'message.created', room).filter((event) => event.data.name === name).map((event) => event.data.text);
        expect(texts).toEqual(Array.from({ length: perSender }, (_, i) => `${name} #${i}`));
      }
    }
    // The receiver's count and the nodes' agree: no node counted a delivery the receiver did not see once.
    await waitUntil(
      async () => (await metric(a, 'chat_webhook_events_delivered_total')) + (await metric(b, 'chat_webhook_events_delivered_total')) === accepted.length,
      `the nodes to count the ${accepted.length} events delivered`,
    );
  });

  describe('one member, however many tabs on however many nodes', () => {
    /** One tab of the member, to close. */
    interface Tab {
      close(): Promise<unknown>;
    }

    /**
     * The member's tabs come on both nodes, then go one by one: one `room.occupied` and one
     * `member.joined` at the first, `member.left` and `room.vacated` only at the last.
     */
    async function oneMemberAcrossTabs(
      { receiver, nodes }: Cluster,
      who: { name: string; user?: string },
      open: (node: ClusterNode, kind: 'raw' | 'sio', room: string) => Promise<Tab>,
    ): Promise<void> {
      const [a, b] = nodes as [ClusterNode, ClusterNode];
      const room = 'tabs';
      /** The room's member and room events so far, as the receiver got them. */
      const roomEvents = () =>
        receiver
          .accepted()
          .filter((event) => event.room === room && !event.type.startsWith('message.'))
          .map(({ type, data }) => ({ type, data }));
      const isMember = (m: Presence['members'][number]) => m.name === who.name && m.user === who.user;
      /** Both nodes count the member's connections (each its own at once, the other's one bus hop later). */
      const counted = (connections: number) =>
        Promise.all(
          nodes.map((node) =>
            waitUntil(
              async () => ((await presenceAt(node, room)).members.find(isMember)?.connections ?? 0) === connections,
              `${node.url} to count ${connections} tabs of ${who.name}`,
            ),
          ),
        );
      /** Every member event either node recorded so far has reached the receiver. */
      const settled = () => Promise.all([marker(receiver, a, room), marker(receiver, b, room)]);

      const tabs: Tab[] = [await open(a, 'raw', room)];
      await counted(1);
      await receiver.waitFor(() => ofType(receiver.accepted(), 'member.joined', room).length > 0, `member.joined in ${room}`);
      tabs.push(await open(a, 'sio', room), await open(b, 'raw', room), await open(b, 'sio', room));
      await counted(4);
      await settled();
      const joined = [
        { type: 'room.occupied', data: {} },
        { type: 'member.joined', data: who },
      ];
      expect(roomEvents()).toEqual(joined);

      // Every tab but the last, on either node, goes: the member stays.
      for (const [index, tab] of tabs.slice(0, -1).entries()) {
        await tab.close();
        await counted(tabs.length - index - 1);
      }
      await settled();
      expect(roomEvents()).toEqual(joined);

      await tabs.at(-1)?.close();
      await receiver.waitFor(() => ofType(receiver.accepted(), 'room.vacated', room).length > 0, `room.vacated in ${room}`);
      await settled();
      expect(roomEvents()).toEqual([...joined, { type: 'member.left', data: who }, { type: 'room.vacated', data: {} }]);
      expect(repeated(receiver.accepted().map((event) => event.id))).toEqual([]);
    }

    const closeSio = (client: SioTestClient) => async () => {
      const gone = new Promise((resolve) => client.socket.once('disconnect', resolve));
      client.socket.disconnect();
      await gone;
    };

    it('with JWT: one user (its sub) in tabs of both kinds on both nodes is one member', async () => {
      const key = await signingKey('HS256');
      const token = (sub: string, name: string) => signToken(key, { sub, name });
      const cluster = await startCluster(2, key.env, (name) => token(name, name));
      const ann = { name: 'Ann', user: 'u-ann' };
      await oneMemberAcrossTabs(cluster, ann, async (node, kind, room) => {
        const credential = await token(ann.user, ann.name);
        if (kind === 'raw') {
          const raw = await joinedRaw(node.url, room, { token: credential });
          return { close: () => raw.close() };
        }
        const sio = await connectSio(node.url, { auth: { token: credential }, room });
        return { close: closeSio(sio) };
      });
    });

    it('without JWT: one name in tabs of both kinds on both nodes is one member', async () => {
      const cluster = await startCluster(2);
      const bob = { name: 'bob' };
      await oneMemberAcrossTabs(cluster, bob, async (node, kind, room) => {
        if (kind === 'raw') {
          const raw = await joinedRaw(node.url, room, { name: bob.name });
          return { close: () => raw.close() };
        }
        const sio = await connectSio(node.url, { auth: { name: bob.name }, room });
        return { close: closeSio(sio) };
      });
    });
  });

  it('a node killed with a batch in flight: the other takes the lease, delivers every acknowledged message, and lets the dead node’s members go', async () => {
    const { receiver, nodes } = await startCluster(2);
    const room = 'stream';

    // The node delivering is the one whose count of delivered events grows with a new one.
    const delivered = () => Promise.all(nodes.map((node) => metric(node, 'chat_webhook_events_delivered_total')));
    const warmUp = await postMessage(nodes[0]!.url, room, { text: 'warm-up', name: 'backend' });
    await eventsOf(receiver, [warmUp.body.id], 'the warm-up message');
    const total = receiver.accepted().length;
    await waitUntil(async () => (await delivered()).reduce((sum, n) => sum + n, 0) >= total, `the nodes to count the ${total} events delivered`);
    const counts = await delivered();
    expect(counts.filter((n) => n > 0)).toHaveLength(1);
    const holder = nodes[counts.findIndex((n) => n > 0)] as ClusterNode;
    const survivor = nodes.find((node) => node !== holder) as ClusterNode;

    // Members on the node that dies, on the one that stays, and one on both.
    const doomedRaw = await joinedRaw(holder.url, room, { name: 'doomed-raw' });
    await connectSio(holder.url, { auth: { name: 'doomed-sio' }, room });
    await joinedRaw(holder.url, room, { name: 'both' });
    const stays = await joinedRaw(survivor.url, room, { name: 'stays' });
    await connectSio(survivor.url, { auth: { name: 'both' }, room });
    const joinedNames = () => ofType(receiver.accepted(), 'member.joined', room).map((event) => event.data.name);
    await receiver.waitFor(
      () => ['doomed-raw', 'doomed-sio', 'both', 'stays'].every((name) => joinedNames().includes(name)),
      'every member.joined',
    );
    expect(joinedNames().filter((name) => name === 'both')).toHaveLength(1);

    await receiver.mode('hang');
    const texts = (from: string, wave: number) => Array.from({ length: 10 }, (_, i) => `${from} wave ${wave} #${i}`);
    const acknowledged: string[] = [];
    const post = async (client: RawTestClient, from: string, wave: number) => acknowledged.push(...(await postRaw(client, texts(from, wave))));
    await Promise.all([post(doomedRaw, 'doomed', 1), post(stays, 'stays', 1)]);
    await receiver.waitFor(() => receiver.batches.some((batch) => batch.status === 0), 'a batch in flight (unanswered)');
    // More events wait behind the batch in flight.
    await Promise.all([post(doomedRaw, 'doomed', 2), post(stays, 'stays', 2)]);
    holder.child.kill('SIGKILL');
    await holder.exited;
    await post(stays, 'stays', 3);
    await receiver.mode('ok');

    // The dead node's lease lapses within LEASE_MS; the survivor then delivers from the oldest event on.
    await eventsOf(receiver, acknowledged, `the ${acknowledged.length} acknowledged messages' events`, LEASE_MS + 15_000);
    const inRoom = firstOccurrences(createdIds(receiver, room));
    expect(inRoom).toEqual([...inRoom].sort(compareIds));
    await waitUntil(async () => (await metric(survivor, 'chat_webhook_deliveries_total{outcome="ok"}')) > 0, 'the survivor to count its deliveries');

    // The dead node's heartbeat lapses and the survivor lets its members go; "both" still has a tab.
    const leftNames = () => ofType(receiver.accepted(), 'member.left', room).map((event) => event.data.name);
    await receiver.waitFor(() => ['doomed-raw', 'doomed-sio'].every((name) => leftNames().includes(name)), 'member.left of the dead node’s members', REAP_WAIT_MS);
    await marker(receiver, survivor, room);
    expect(leftNames().sort()).toEqual(['doomed-raw', 'doomed-sio']);
    expect(ofType(receiver.accepted(), 'room.vacated', room)).toEqual([]);
    expect(receiver.invalid).toEqual([]);
  });

  it('a node waiting for a slow receiver keeps the lease: no other node sends the batch meanwhile', async () => {
    // A legal setting: a receiver may take longer to answer than the lease lasts.
    const timeoutMs = LEASE_MS + 5_000;
    const { receiver, nodes } = await startCluster(2, { WEBHOOK_TIMEOUT_MS: String(timeoutMs) });
    await receiver.mode('hang');
    const before = receiver.batches.length;
    await postMessage(nodes[0]!.url, 'slow', { text: 'one', name: 'backend' });
    await receiver.waitFor(() => receiver.batches.length > before, 'the batch (left unanswered)');
    const sentAt = Date.now();
    // While it waits for the answer, the node delivering holds the lease: the next request
    // can only be its own retry, once its deadline has passed.
    await receiver.waitFor(() => receiver.batches.length > before + 1, 'the batch sent again', timeoutMs + 10_000);
    const againAfterMs = Date.now() - sentAt;
    expect(againAfterMs).toBeGreaterThanOrEqual(timeoutMs - 1_000);
    expect(receiver.batches[before + 1]?.id).toBe(receiver.batches[before]?.id);
  });
});
