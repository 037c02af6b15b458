import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import type { Config } from '../config';
import type { Rooms } from '../room/rooms';
import type { BanStore } from '../store/ban-store';
import type { MessageStore } from '../store/message-store';
import { socketIoCarrier, type BusCarrier } from './bus-carrier';
import { ClusterRoomBus } from './room-bus';
import { setupRedis } from './redis';
import { createWorkerAdapter } from './worker-adapter';

/** This process is worker `index` (0-based) of `count`; the primary owns the port. */
export interface WorkerSlot {
  index: number;
  count: number;
}

/** A node's part in a cluster. */
export interface ClusterMembership {
  /** The other nodes can be reached (false while Redis is down). */
  connected(): boolean;
  /** Shutdown, once the clients are drained: the other nodes stop counting what is left of them. */
  leave(): void;
  /** Shutdown, last step, after Socket.IO has closed its adapter. */
  close(): Promise<void>;
}

/** What a node uses when it is one of several. */
export interface Cluster {
  bus: ClusterRoomBus;
  /** The shared store (Redis); undefined: each node keeps its own. */
  store?: MessageStore;
  /** The shared bans (Redis); undefined: each node keeps its own (workers share a file). */
  bans?: BanStore;
  membership: ClusterMembership;
}

/**
 * Joins the node to the others, if there are any: REDIS_URL set means Redis (adapter,
 * shared history, bus on pub/sub); several workers and no Redis means the node:cluster adapter
 * through the primary, the workers keeping their own store (one SQLite file they share,
 * or each its memory). Otherwise nothing changes (default adapter) and null is returned.
 */
export async function joinCluster(
  config: Config,
  io: Server,
  rooms: Rooms,
  logger: Logger,
  worker?: WorkerSlot,
): Promise<Cluster | null> {
  const link = (carrier: BusCarrier, connected: () => boolean) =>
    new ClusterRoomBus({ carrier, rooms, logger, connected, heartbeatMs: config.heartbeatMs });

  if (config.redisUrl !== null) {
    const stored = { keep: config.historyKeep, maxRooms: config.maxStoredRooms };
    const redis = await setupRedis(config.redisUrl, config.redisCluster, io, stored, logger, config.webhookUrl !== null);
    const bus = link(redis.bus, redis.connected);
    return { bus, store: redis.store, bans: redis.bans, membership: { connected: redis.connected, leave: () => bus.close(), close: () => redis.close() } };
  }
  if (worker !== undefined && worker.count > 1) {
    io.adapter(createWorkerAdapter());
    const bus = link(socketIoCarrier(io), () => true);
    return { bus, membership: { connected: () => true, leave: () => bus.close(), close: async () => undefined } };
  }
  return null;
}
