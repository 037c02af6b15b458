/**
 * Redis for several nodes: the Socket.IO adapter, the connection of the shared history
 * (server/store/redis-store.ts), the bus's subscriptions (redis-bus-carrier.ts), and
 * whether the other nodes can be reached.
 *
 * Client library: node-redis (`redis`). It is Redis's own client, the first one the
 * official Socket.IO adapters document, promise-based with typed commands, and it
 * reconnects and re-subscribes by itself after an outage, which the adapter and the bus
 * rely on.
 */
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import { withDeadline } from '../support/deadline';
import type { StoreBounds } from '../store/message-store';
import type { BanStore } from '../store/ban-store';
import { CLUSTER_BAN_KEYS, RedisBanStore, SINGLE_REDIS_BAN_KEYS } from '../store/redis-ban-store';
import { CLUSTER_KEYS, SINGLE_REDIS_KEYS } from '../store/redis/keys';
import { RedisOutbox } from '../store/redis/outbox';
import { RedisStore } from '../store/redis-store';
import { RedisBusCarrier } from './redis-bus-carrier';
import { redisCluster, singleRedis } from './redis-connections';
import { createRoomAdapter } from './room-adapter';

export interface RedisCluster {
  /** Both connections are up: other nodes can be reached. */
  connected(): boolean;
  /** History in Redis streams, one per room, shared by every node. */
  store: RedisStore;
  /** Bans and mutes, shared by every node. */
  bans: BanStore;
  /** The bus between nodes: a channel per room, and one for every node. */
  bus: RedisBusCarrier;
  close(): Promise<void>;
}

/** A node starts only with Redis; after that it survives outages. */
const STARTUP_TIMEOUT_MS = 5_000;

/** How long a stopping node waits to take its last members out of the webhook counts. */
const LEAVE_TIMEOUT_MS = 2_000;

/**
 * Connects and installs the room adapter on `io` (room-adapter.ts): each namespace's
 * broadcasts on a channel of its own, heard by the nodes where it exists, and kept for
 * connection state recovery in a stream of its own, with the sessions, in Redis, so that
 * a client may come back on any node. `events`: the store records webhook events
 * (WEBHOOK_URL set).
 */
export async function setupRedis(
  url: string,
  clustered: boolean,
  io: Server,
  stored: Omit<StoreBounds, 'maxBytes'>,
  logger: Logger,
  events = false,
): Promise<RedisCluster> {
  const redis = clustered ? redisCluster(url, logger) : singleRedis(url, logger);
  // node-redis would retry for ever, and the server would wait, not listening, silently.
  const host = new URL(url).host;
  const failed = (why: string) => {
    redis.destroy();
    return new Error(`redis${clustered ? ' cluster' : ''} at ${host} ${why}`);
  };
  const answered = await withDeadline(redis.connect(), STARTUP_TIMEOUT_MS).catch((err: unknown) => {
    throw failed(`refused the connection: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!answered) throw failed(`did not answer within ${STARTUP_TIMEOUT_MS} ms`);
  if (events && redis.single === null) throw failed('cannot keep the webhook outbox: it needs a single Redis');
  const outbox = events && redis.single !== null ? new RedisOutbox(redis.single, logger) : undefined;
  const store = new RedisStore(redis.data, stored.keep, stored.maxRooms, logger, outbox, clustered ? CLUSTER_KEYS : SINGLE_REDIS_KEYS);
  const bus = new RedisBusCarrier(redis.rooms, redis.nodes, logger);
  const prepared = async () => {
    await bus.start();
    await store.upgrade();
    // Counted among the nodes before any member is: its members leave if it dies.
    await store.events?.start();
  };
  await prepared().catch((err: unknown) => {
    throw failed(`could not be prepared: ${err instanceof Error ? err.message : String(err)}`);
  });
  io.adapter(createRoomAdapter(redis.adapter, redis.adapterSubscriber, { sharded: clustered }));

  return {
    connected: () => redis.ready(),
    store,
    bus,
    bans: new RedisBanStore(redis.data, logger, clustered ? CLUSTER_BAN_KEYS : SINGLE_REDIS_BAN_KEYS),
    async close() {
      // Its clients have left: what remains of its members (counts Redis missed) goes now.
      // If Redis does not answer, the other nodes let them go once its heartbeat lapses.
      if (store.events !== undefined) {
        const left = store.events.leave().catch((err: unknown) => {
          logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'webhooks: members not cleared on leave');
        });
        await withDeadline(left, LEAVE_TIMEOUT_MS);
      }
      // After io.close(): the adapter has stopped using its connections.
      redis.destroy();
    },
  };
}
