/**
 * A node's Redis connections, to one Redis or to a Redis Cluster, as each part of the
 * node uses them: the history and bans (commands that fail at once in an outage), the
 * Socket.IO adapter (commands kept in node-redis's offline queue, and its subscriptions),
 * and the bus (a channel per room, one for every node).
 *
 * On a Redis Cluster every command names its keys, so node-redis sends it to the node
 * holding their slot; a room's channels are sharded (SPUBLISH, SSUBSCRIBE), so a room's
 * messages go through the node holding its history, and no other; the nodes' channel is
 * the cluster's plain pub/sub, which every node of the cluster relays.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { createClient, createCluster } from 'redis';
import type { BanRedisClient } from '../store/redis-ban-store';
import type { AdapterClient, AdapterSubscriber } from './room-adapter';
import type { PubSub } from './redis-bus-carrier';

/** A client as `createClient({ url, ... })` makes it: no modules, scripts or functions, RESP3. */
export type SingleRedisClient = ReturnType<typeof createClient<{}, {}, {}, 3, {}>>;

export interface RedisConnections {
  readonly clustered: boolean;
  /** History, bans: no offline queue, so that a command fails at once while Redis is down. */
  readonly data: BanRedisClient;
  /** The same connection as a single Redis's client (the webhook outbox); null on a cluster. */
  readonly single: SingleRedisClient | null;
  /** The Socket.IO adapter's commands; every reply is marked handled (see adapterOn). */
  readonly adapter: AdapterClient;
  readonly adapterSubscriber: AdapterSubscriber;
  /** A room's channel, published beside its history. */
  readonly rooms: PubSub;
  /** The channel every node hears. */
  readonly nodes: PubSub;
  connect(): Promise<unknown>;
  /** Every connection is up. */
  ready(): boolean;
  destroy(): void;
}

/** Reconnect soon after an outage (node-redis's default waits up to 2 s between tries). */
const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);

// No per-command timeout (node-redis 6 sets 5 s): it costs an AbortSignal timer per
// command, several per message, and their upkeep stalled the event loop for tens of
// milliseconds (BENCHMARKS.md, issue #24). A Redis that goes away fails the commands at
// once; one that stays connected without answering holds them until it answers.
const commandOptions = { timeout: 0 };

/**
 * Follows one client's (or cluster's) connections: logs the first error of an outage and
 * the return, once each, and answers whether all of them are up. A cluster reports its
 * nodes apart ('node-error', 'node-ready', with the node) and stays "ready" while one
 * is down; it says 'error' only when it cannot reach any. Without an 'error' listener a
 * lost connection would end the process.
 */
function watch(client: Pick<EventEmitter, 'on'>, role: string, logger: Logger): () => boolean {
  const down = new Set<string>();
  const nodeOf = (info: unknown) => {
    const node = info as { host?: string; port?: number } | undefined;
    return node?.host === undefined ? '' : `${node.host}:${node.port}`;
  };
  const failed = (node: string) => (err: Error) => {
    const where = { err: err.message, role, node: node === '' ? undefined : node };
    if (down.size === 0) logger.warn(where, 'redis unreachable; delivering to local clients only');
    else logger.debug(where, 'redis still unreachable');
    down.add(node);
  };
  const back = (...nodes: string[]) => {
    const was = down.size;
    for (const node of nodes) down.delete(node);
    if (was > 0 && down.size === 0) logger.info({ role }, 'redis reachable again');
  };
  client.on('error', (err: Error) => failed('')(err));
  client.on('ready', () => back(''));
  client.on('node-error', (err: Error, info: unknown) => failed(nodeOf(info))(err));
  // A node answering again also ends a cluster's own error (it reached none before).
  client.on('node-ready', (info: unknown) => back('', nodeOf(info)));
  return () => down.size === 0;
}

/** The adapter's commands that both kinds of connection send alike. */
type PlainAdapterCommands = Pick<AdapterClient, 'eval' | 'set' | 'getDel' | 'del' | 'xRange'>;

/** `promise`, marked handled: its rejection is still seen by whoever awaits it. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * The adapter's commands on `commands`, with the publish and the count of the connection's
 * kind. Every reply is marked handled: the adapter sends some commands without waiting
 * for their answer (PUBLISH of the cluster's ephemeral messages, which carry the bus; SET
 * of a session), and one in flight when Redis goes away would be an unhandled rejection,
 * which ends the process. What the adapter awaits still sees the failure.
 */
function adapterOn(commands: PlainAdapterCommands, publish: AdapterClient['publish'], subscriberCount: AdapterClient['subscriberCount']): AdapterClient {
  return {
    eval: (script, options) => handled(commands.eval(script, options)),
    publish: (channel, message) => handled(publish(channel, message)),
    set: (key, value, options) => handled(commands.set(key, value, options)),
    getDel: (key) => handled(commands.getDel(key)),
    del: (key) => handled(commands.del(key)),
    xRange: (key, start, end, options) => handled(commands.xRange(key, start, end, options)),
    subscriberCount: (channel) => handled(subscriberCount(channel)),
  };
}

/** Connections to the one Redis at `url`: three clients. */
export function singleRedis(url: string, logger: Logger): RedisConnections {
  const connect = (role: string, disableOfflineQueue: boolean) => {
    const client = createClient({ url, disableOfflineQueue, socket: { reconnectStrategy }, commandOptions });
    watch(client, role, logger);
    return client;
  };
  // The adapter's connection keeps node-redis's offline queue, as it always has; a room's
  // broadcasts go to local clients only while Redis is down (RoomNamespaces).
  const adapterClient = connect('adapter', false);
  // History and health fail fast instead: a message sent during an outage is stamped
  // locally and delivered locally at once, not held until Redis returns.
  const dataClient = connect('history', true);
  // Subscribed, so a connection of its own; it keeps the offline queue, and node-redis
  // subscribes it again to every channel after an outage.
  const busClient = connect('bus', false);
  // Rooms' events are published on the history's connection, after the messages they carry are stored.
  const pubSub: PubSub = {
    publish: (channel, message) => dataClient.publish(channel, message),
    subscribe: (channel, listener) => busClient.subscribe(channel, listener),
    unsubscribe: (channel, listener) => busClient.unsubscribe(channel, listener),
  };
  const clients = [adapterClient, dataClient, busClient];
  return {
    clustered: false,
    data: dataClient,
    single: dataClient,
    adapter: adapterOn(
      adapterClient,
      (channel, message) => adapterClient.publish(channel, message),
      async (channel) => Object.values(await adapterClient.pubSubNumSub(channel))[0] ?? 0,
    ),
    // Its channels on the bus's subscribed connection: one connection hears everything.
    adapterSubscriber: busClient,
    rooms: pubSub,
    nodes: pubSub,
    connect: () => Promise.all(clients.map((client) => client.connect())),
    ready: () => clients.every((client) => client.isReady),
    destroy: () => clients.forEach((client) => client.destroy()),
  };
}

/** Connections to the Redis Cluster that `url` (one of its nodes) belongs to: three cluster clients, as for one Redis. */
export function redisCluster(url: string, logger: Logger): RedisConnections {
  const connect = (role: string, disableOfflineQueue: boolean) => {
    // The nodes found from the first one get `defaults`, not its URL: TLS is said again.
    const socket = url.startsWith('rediss:') ? { reconnectStrategy, tls: true as const } : { reconnectStrategy };
    const cluster = createCluster({ rootNodes: [{ url }], defaults: { disableOfflineQueue, socket }, commandOptions });
    watched.push(watch(cluster, role, logger));
    return cluster;
  };
  const watched: (() => boolean)[] = [];
  const adapterCluster = connect('adapter', false);
  const dataCluster = connect('history', true);
  const busCluster = connect('bus', false);
  const clusters = [adapterCluster, dataCluster, busCluster];
  type ShardedListener = Parameters<typeof busCluster.sSubscribe>[1];
  return {
    clustered: true,
    data: dataCluster,
    single: null,
    adapter: adapterOn(
      adapterCluster,
      (channel, message) => adapterCluster.sPublish(channel, message),
      // PUBSUB SHARDNUMSUB names no key, so node-redis would send it anywhere: it goes to
      // the node of the channel's slot, which alone counts the channel's subscribers.
      async (channel) => {
        const node = await adapterCluster.getNodeClientForKey(channel);
        return Object.values(await node.pubSubShardNumSub(channel))[0] ?? 0;
      },
    ),
    // The listener's message type follows `bufferMode`, as in node-redis's own signatures.
    adapterSubscriber: {
      subscribe: (channel, listener, bufferMode) => busCluster.sSubscribe(channel, listener as ShardedListener, bufferMode),
      unsubscribe: (channel, listener, bufferMode) => busCluster.sUnsubscribe(channel, listener as ShardedListener, bufferMode),
    },
    rooms: {
      publish: (channel, message) => dataCluster.sPublish(channel, message),
      subscribe: (channel, listener) => busCluster.sSubscribe(channel, listener),
      unsubscribe: (channel, listener) => busCluster.sUnsubscribe(channel, listener),
    },
    nodes: {
      publish: (channel, message) => dataCluster.publish(channel, message),
      subscribe: (channel, listener) => busCluster.subscribe(channel, listener),
      // Typed for either kind of message there: ours are strings (no bufferMode).
      unsubscribe: (channel, listener) => busCluster.unsubscribe(channel, listener as Parameters<typeof busCluster.unsubscribe>[1]),
    },
    connect: () => Promise.all(clusters.map((cluster) => cluster.connect())),
    ready: () => clusters.every((cluster) => cluster.isReady) && watched.every((up) => up()),
    destroy: () => clusters.forEach((cluster) => cluster.destroy()),
  };
}
