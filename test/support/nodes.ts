import type { Presence } from '../../server/protocol';
import { connectRaw, type RawTestClient } from './raw-client';
import { startRedis } from './redis';
import { connectSio, type SioTestClient } from './sio-client';
import { spawnServer, type SpawnedServer } from './spawn-server';
import { waitUntil } from './wait';

/** Several server processes compiling at once on a busy machine start slowly. */
export const MULTI_PROCESS_START_MS = 40_000;

/** A server process of a cluster, with the key of its HTTP API (which says whom it counts). */
export interface ClusterNode extends SpawnedServer {
  readonly apiKey: string;
}

/** With JWT on: a token whose `sub` and `name` are `name`, for the clients that check the link. */
export type TokenFor = (name: string) => Promise<string>;

/**
 * Starts `count` server processes with the same settings (a REDIS_URL, usually) and
 * resolves once each one's events reach every other: the adapters subscribe and start
 * reading their stream a moment after the server listens. The HTTP API is on (with the
 * test's API_KEY, or one of its own) so that a test can ask a node whom it counts.
 */
export async function startNodes(count: number, env: Record<string, string>, tokenFor?: TokenFor): Promise<ClusterNode[]> {
  const apiKey = env.API_KEY ?? 'cluster-test-key';
  const nodes = await Promise.all(
    Array.from({ length: count }, async () => ({ ...(await spawnServer({ ...env, API_KEY: apiKey }, MULTI_PROCESS_START_MS)), apiKey })),
  );
  await linked(nodes, tokenFor);
  return nodes;
}

/** Two nodes on a redis-server of their own, flood control off: what a block's beforeAll starts for its tests to share. */
export async function twoNodesOnRedis(): Promise<[ClusterNode, ClusterNode]> {
  const redis = await startRedis();
  return (await startNodes(2, { REDIS_URL: redis.url, RATE_LIMIT: '0' })) as [ClusterNode, ClusterNode];
}

/** Who `node` counts in `room`, everywhere in the cluster, as its HTTP API tells. */
export async function presenceAt(node: ClusterNode, room = 'lobby'): Promise<Presence> {
  const res = await fetch(`${node.url}/api/rooms/${room}/presence`, { headers: { authorization: `Bearer ${node.apiKey}` } });
  if (res.status !== 200) throw new Error(`presence at ${node.url}: HTTP ${res.status}`);
  return (await res.json()) as Presence;
}

/**
 * Waits until a join on any of `nodes` is announced to raw and Socket.IO clients on all
 * the others, then until every node has stopped counting the probes and listeners (their
 * leaves, and counts, reached every node before a test's next client arrives).
 */
export async function linked(nodes: readonly ClusterNode[], tokenFor?: TokenFor): Promise<void> {
  const as = async (name: string): Promise<Record<string, string>> => (tokenFor === undefined ? { name } : { name, token: await tokenFor(name) });
  const listeners: { raw: RawTestClient; sio: SioTestClient }[] = [];
  for (const { url } of nodes) {
    listeners.push({
      raw: await connectRaw(url, { ...(await as('listener')), format: 'json' }),
      sio: await connectSio(url, { auth: await as('listener') }),
    });
  }
  const deadline = Date.now() + 10_000;
  for (const [index, { url }] of nodes.entries()) {
    const others = listeners.filter((_, i) => i !== index);
    for (;;) {
      const name = `probe-${index}`;
      const probe = await connectRaw(url, await as(name));
      // A join published before the other nodes read the bus is lost to them: after
      // 500 ms without it, the probe is sent again (until the 10 s deadline).
      const heard = await waitUntil(
        () => others.every(({ raw, sio }) => raw.messages.pending.some((m) => m.includes(`"${name}"`)) && sio.notices.pending.some((n) => n.name === name)),
        `a join on ${url} announced on every other node`,
        500,
      ).then(
        () => true,
        () => false,
      );
      await probe.close();
      if (heard) break;
      if (Date.now() > deadline) throw new Error(`node ${url} is not linked to the others`);
    }
  }
  for (const { raw, sio } of listeners) {
    sio.socket.disconnect();
    await raw.close();
  }
  const linking = (name: string) => name === 'listener' || name.startsWith('probe-');
  for (const node of nodes) {
    await waitUntil(
      async () => !(await presenceAt(node)).members.some((member) => linking(member.name)),
      `${node.url} to stop counting the probes and listeners`,
    );
  }
}
