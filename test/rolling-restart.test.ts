import { unusedPort } from '../tools/ports';
import { connectChatFrom, connectorsFrom } from './support/bound-connectors';
import { onCleanup } from './support/cleanup';
import { metricValue } from './support/metrics';
import { describeWithNginx, startNginx } from './support/nginx';
import { describeWithLoopbackAliases } from './support/loopback';
import { MULTI_PROCESS_START_MS } from './support/nodes';
import { describeWithRedis, startRedis } from './support/redis';
import { spawnServer, type Exit, type SpawnedServer } from './support/spawn-server';
import { waitUntil, within } from './support/wait';
import { watchChatClient, watchSession, type WatchedClient } from './support/watched-session';

/**
 * A rolling deploy as docs/deploy/README.md tells it: nginx (the documented
 * configuration) in front of three nodes on one Redis, clients of every kind connected
 * through it and posting throughout, and each node in turn stopped with SIGTERM and
 * started again on its port once it has exited, the next only once it is ready.
 */

const DRAIN_MS = 3_000;
/** How long a user may be left without a connection: the drain, then a reconnect's few tries. */
const LONGEST_OUTAGE_MS = DRAIN_MS + 5_000;
/** nginx picks a client's node by its address: each address has a raw and a Socket.IO client. */
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];
const ROOMS = ['alpha', 'beta'] as const;
const POST_EVERY_MS = 1_000;
/**
 * Whose reconnects must be spread: a node's WebSocket clients, when it has this many. Fewer
 * may come back within a second by chance: the drain's schedule counts its long-polling
 * clients too, and each reconnect waits a random 0-0.5 s.
 */
const SPREAD_CLIENTS = 5;

interface Drain {
  readonly node: number;
  readonly sigtermAt: number;
  readonly exitAt: number;
  readonly exit: Exit;
  /** Clients the node counted just before (raw + Socket.IO). */
  readonly clientsBefore: number;
}

/** A node on `port`, resolving once it is listening. */
function startNodeOn(port: number, env: Record<string, string>): Promise<SpawnedServer> {
  return spawnServer({ ...env, PORT: String(port) }, MULTI_PROCESS_START_MS);
}

/** A node on a free port, tried again on another one if the port was taken meanwhile. */
async function startNodeOnFreePort(env: Record<string, string>): Promise<{ port: number; node: SpawnedServer }> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await unusedPort();
    try {
      return { port, node: await startNodeOn(port, env) };
    } catch (err) {
      if (attempt === 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

/** What the load balancer's health check waits for: GET /readyz answering 200. */
async function untilReady(url: string): Promise<void> {
  const ready = () =>
    fetch(`${url}/readyz`).then(
      async (res) => (await res.arrayBuffer(), res.ok),
      () => false,
    );
  await waitUntil(ready, `${url}/readyz to answer 200`, MULTI_PROCESS_START_MS);
}

async function clientsOn(node: SpawnedServer): Promise<number> {
  const count = (transport: string) => metricValue(node.url, `chat_connections{transport="${transport}"}`);
  return (await count('raw')) + (await count('socket.io'));
}

/** Every client posts every POST_EVERY_MS; the ids the server acknowledged, per room. */
class Traffic {
  readonly acked = new Map<string, Set<string>>(ROOMS.map((room) => [room, new Set<string>()]));
  /** Posts refused or lost with their connection: the user saw them fail. */
  readonly failed: string[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  /** Posts still waiting for their answer, by their text. */
  private readonly inFlight = new Map<string, Promise<void>>();

  start(clients: readonly WatchedClient[]): void {
    onCleanup('clients', () => this.timers.forEach(clearTimeout));
    for (const client of clients) {
      let n = 0;
      const post = () => {
        n += 1;
        const text = `${client.label} #${n}`;
        const sent = client.send(text).then(
          (id) => void this.acked.get(client.room)?.add(id),
          (err: unknown) => void this.failed.push(`${text}: ${String(err)}`),
        );
        this.inFlight.set(text, sent);
        void sent.finally(() => this.inFlight.delete(text));
      };
      // Each at its own phase, so that the room's posts are spread over the second.
      const phase = setTimeout(() => this.timers.push(setInterval(post, POST_EVERY_MS)), Math.random() * POST_EVERY_MS);
      this.timers.push(phase);
    }
  }

  /** Stops posting; resolves with the posts still unanswered after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<string[]> {
    for (const timer of this.timers) clearTimeout(timer);
    await within(Promise.all(this.inFlight.values()), 'the last posts to be answered', timeoutMs).catch(() => undefined);
    return [...this.inFlight.keys()];
  }
}

/** Every kind of client, one pair per address: raw JSON and Socket.IO sessions, and one long-polling socket per room. */
async function connectClients(url: string): Promise<WatchedClient[]> {
  return Promise.all([
    ...ADDRESSES.flatMap((address, i) => {
      const [rawRoom, sioRoom] = i % 2 === 0 ? ROOMS : ([ROOMS[1], ROOMS[0]] as const);
      const connectors = connectorsFrom(address);
      return [
        watchSession(url, 'raw', rawRoom, `raw-${i}`, connectors, `raw ${address} ${rawRoom}`),
        watchSession(url, 'socket.io', sioRoom, `sio-${i}`, connectors, `socket.io ${address} ${sioRoom}`),
      ];
    }),
    ...ROOMS.map((room, i) => {
      const address = ADDRESSES[i] as string;
      const name = `poll-${i}`;
      const socket = connectChatFrom(url, address, { name, room, forceNew: true, transports: ['polling'] });
      return watchChatClient(socket, room, name, `long-polling ${address} ${room}`);
    }),
  ]);
}

/** What each client missed of its room's acknowledged messages. */
function missing(clients: readonly WatchedClient[], traffic: Traffic): string[] {
  return clients.flatMap((client) => {
    const lost = [...(traffic.acked.get(client.room) ?? [])].filter((id) => !client.shown.has(id));
    return lost.length === 0 ? [] : [`${client.label} never showed ${lost.length} acknowledged messages, e.g. ${lost.slice(0, 3).join(', ')}`];
  });
}

/** What a user would have noticed go wrong across the drains, one line each. */
function problems(clients: readonly WatchedClient[], drains: readonly Drain[]): string[] {
  const found: string[] = [];
  const inDrain = (at: number) => drains.find((d) => at >= d.sigtermAt && at <= d.exitAt + 500);
  for (const client of clients) {
    const failure = client.failure();
    if (failure !== null) found.push(`${client.label} gave up: ${failure}`);
    for (const { lostAt, backAt, reason } of client.outages) {
      if (backAt === null) found.push(`${client.label} lost its connection (${reason}) and never came back`);
      else if (backAt - lostAt > LONGEST_OUTAGE_MS) found.push(`${client.label} was disconnected for ${backAt - lostAt} ms (${reason})`);
      // A long-polling client moved by a failover is moved back once its node returns (the
      // hash sends it there again, to a node without its session): it reconnects once more.
      if (inDrain(lostAt) === undefined && client.kind !== 'long-polling') {
        found.push(`${client.label} lost its connection (${reason}) while no node was draining`);
      }
    }
  }
  // The drain ends WebSocket clients one by one; a long-polling client is gone at once,
  // its next request refused, so it is not part of the spread.
  const webSocketClients = clients.filter((c) => c.kind !== 'long-polling');
  let spreadShown = false;
  for (const drain of drains) {
    if (drain.exit.code !== 0) found.push(`node ${drain.node} exited with ${JSON.stringify(drain.exit)}`);
    const returns = webSocketClients.flatMap((c) => c.outages.filter((o) => inDrain(o.lostAt) === drain && o.backAt !== null).map((o) => o.backAt as number));
    if (returns.length < SPREAD_CLIENTS) continue;
    spreadShown = true;
    if (Math.max(...returns) - Math.min(...returns) < 1_000) found.push(`node ${drain.node}'s ${returns.length} WebSocket clients all came back within one second`);
  }
  if (!spreadShown) found.push(`no node had ${SPREAD_CLIENTS} WebSocket clients to end, so the drain's spread was not seen`);
  return found;
}

/** When each node drained and each client was out, in ms from the first SIGTERM: what a failure needs to be read. */
function timeline(clients: readonly WatchedClient[], drains: readonly Drain[]): string[] {
  const t0 = drains[0]?.sigtermAt ?? 0;
  return [
    ...drains.map((d) => `timeline: node ${d.node} (${d.clientsBefore} clients) drained from ${d.sigtermAt - t0} to ${d.exitAt - t0}`),
    ...clients.map((c) => `timeline: ${c.label} out ${c.outages.map((o) => `${o.lostAt - t0}..${o.backAt === null ? 'end' : o.backAt - t0} (${o.reason})`).join(', ') || 'never'}`),
  ];
}

describeWithRedis('a rolling restart behind nginx', () => {
  describeWithNginx('three nodes on Redis, restarted one at a time under traffic', () => {
    describeWithLoopbackAliases('clients from 127.0.0.2-127.0.0.9', () => {
      it('loses no acknowledged message, and every client is back soon, its node\'s clients spread over the drain', async () => {
        const redis = await startRedis();
        // As docs/deploy/README.md sets the nodes: nginx (on 127.0.0.1) is a trusted proxy.
        const env = { REDIS_URL: redis.url, DRAIN_MS: String(DRAIN_MS), TRUST_PROXY: '127.0.0.1' };
        const started = await Promise.all([0, 1, 2].map(() => startNodeOnFreePort(env)));
        const ports = started.map((s) => s.port);
        const nodes = started.map((s) => s.node);
        await Promise.all(nodes.map((node) => untilReady(node.url)));
        const nginx = await startNginx(ports);

        const clients = await connectClients(nginx.url);
        const spread = await Promise.all(nodes.map(clientsOn));
        // The documented hash spreads 127.0.0.x over the nodes (ip_hash would not).
        expect(spread.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);

        const traffic = new Traffic();
        traffic.start(clients);
        // A message from each room has crossed to all its clients before any node goes.
        await waitUntil(() => missing(clients, traffic).length === 0 && ROOMS.every((room) => (traffic.acked.get(room)?.size ?? 0) > 0), 'the first messages to reach everyone');

        const drains: Drain[] = [];
        for (const [index, port] of ports.entries()) {
          const node = nodes[index] as SpawnedServer;
          const clientsBefore = await clientsOn(node);
          const sigtermAt = Date.now();
          node.child.kill('SIGTERM');
          const exit = await within(node.exited, `node ${index} to exit after SIGTERM`, DRAIN_MS + 15_000);
          drains.push({ node: index, sigtermAt, exitAt: Date.now(), exit, clientsBefore });
          nodes[index] = await startNodeOn(port, env);
          await untilReady((nodes[index] as SpawnedServer).url);
        }

        // Who is not back in time is named below.
        await waitUntil(() => clients.every((c) => c.connected() || c.failure() !== null), 'every client to be connected again', LONGEST_OUTAGE_MS).catch(() => undefined);
        const unanswered = await traffic.stop(10_000);
        await waitUntil(() => missing(clients, traffic).length === 0, 'every acknowledged message to reach every client of its room', 15_000).catch(() => undefined);

        const neverAnswered = unanswered.map((text) => `the post "${text}" was never answered`);
        const found = [...neverAnswered, ...missing(clients, traffic), ...problems(clients, drains)];
        const context = [...timeline(clients, drains), ...traffic.failed.map((post) => `failed post (not acknowledged, so not counted): ${post}`)];
        expect(found.length === 0 ? [] : [...found, ...context]).toEqual([]);
      }, 150_000);
    });
  });
});
