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
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { withDeadline } from '../support/deadline';
import type { StoreBounds } from '../store/message-store';
import type { BanStore } from '../store/ban-store';
import { RedisBanStore } from '../store/redis-ban-store';
import { RedisStore } from '../store/redis-store';
import { RedisBusCarrier } from './redis-bus-carrier';
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

/** Reconnect soon after an outage (node-redis's default waits up to 2 s between tries). */
const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);

function connect(url: string, role: string, logger: Logger, disableOfflineQueue: boolean) {
  // No per-command timeout (node-redis 6 sets 5 s): it costs an AbortSignal timer per
  // command, several per message, and their upkeep stalled the event loop for tens of
  // milliseconds (BENCHMARKS.md, issue #24). A Redis that goes away fails the commands at
  // once; one that stays connected without answering holds them until it answers.
  const client = createClient({ url, disableOfflineQueue, socket: { reconnectStrategy }, commandOptions: { timeout: 0 } });
  let down = false;
  // Without an 'error' listener a lost connection would crash the process.
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn({ err: err.message, role }, 'redis unreachable; delivering to local clients only');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ role }, 'redis reachable again');
  });
  return client;
}

/**
 * The client as the adapter gets it: every command's promise is marked handled. The
 * adapter sends some commands without waiting for their answer (PUBLISH of the cluster's
 * ephemeral messages, which carry the bus; SET of a session), and one in flight when
 * Redis goes away would be an unhandled rejection, which ends the process. What the
 * adapter awaits still sees the failure: the promise returned is the command's own.
 */
function handlingEveryReply<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // Called on the client itself: its methods use private fields a proxy does not have.
      return (...args: unknown[]): unknown => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) result.catch(() => undefined);
        return result;
      };
    },
  });
}

/**
 * Connects and installs the room adapter on `io` (room-adapter.ts): each namespace's
 * broadcasts on a channel of its own, heard by the nodes where it exists, and kept for
 * connection state recovery in a stream of its own, with the sessions, in Redis, so that
 * a client may come back on any node. `events`: the store records webhook events
 * (WEBHOOK_URL set).
 */
export async function setupRedis(
  url: string,
  io: Server,
  stored: Omit<StoreBounds, 'maxBytes'>,
  logger: Logger,
  events = false,
): Promise<RedisCluster> {
  // The adapter's connection keeps node-redis's offline queue, as it always has; a room's
  // broadcasts go to local clients only while Redis is down (RoomNamespaces).
  const adapterClient = connect(url, 'adapter', logger, false);
  // History and health fail fast instead: a message sent during an outage is stamped
  // locally and delivered locally at once, not held until Redis returns.
  const dataClient = connect(url, 'history', logger, true);
  // Subscribed, so a connection of its own; it keeps the offline queue, and node-redis
  // subscribes it again to every channel after an outage.
  const busClient = connect(url, 'bus', logger, false);
  // node-redis would retry for ever, and the server would wait, not listening, silently.
  const host = new URL(url).host;
  const failed = (why: string) => {
    adapterClient.destroy();
    dataClient.destroy();
    busClient.destroy();
    return new Error(`redis at ${host} ${why}`);
  };
  const answered = await withDeadline(Promise.all([adapterClient.connect(), dataClient.connect(), busClient.connect()]), STARTUP_TIMEOUT_MS).catch(
    (err: unknown) => {
      throw failed(`refused the connection: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
  if (!answered) throw failed(`did not answer within ${STARTUP_TIMEOUT_MS} ms`);
  const store = new RedisStore(dataClient, stored.keep, stored.maxRooms, logger, events);
  // Rooms' events are published on the history's connection, after the messages they carry are stored.
  const bus = new RedisBusCarrier(dataClient, busClient, logger);
  const prepared = async () => {
    await bus.start();
    await store.upgrade();
    // Counted among the nodes before any member is: its members leave if it dies.
    await store.events?.start();
  };
  await prepared().catch((err: unknown) => {
    throw failed(`could not be prepared: ${err instanceof Error ? err.message : String(err)}`);
  });
  // Its channels on the bus's subscribed connection: one connection hears everything.
  io.adapter(createRoomAdapter(handlingEveryReply(adapterClient), busClient));

  return {
    connected: () => adapterClient.isReady && dataClient.isReady && busClient.isReady,
    store,
    bus,
    bans: new RedisBanStore(dataClient, logger),
    async close() {
      // Its clients have left: what remains of its members (counts Redis missed) goes now.
      // If Redis does not answer, the other nodes let them go once its heartbeat lapses.
      if (store.events !== undefined) {
        const left = store.events.leave().catch((err: unknown) => {
          logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'webhooks: members not cleared on leave');
        });
        await withDeadline(left, LEAVE_TIMEOUT_MS);
      }
      // After io.close(): the adapter has stopped its own duplicated connections.
      adapterClient.destroy();
      dataClient.destroy();
      busClient.destroy();
    },
  };
}
