/**
 * Redis for several nodes: the Socket.IO adapter, the shared history (one stream per
 * room), and whether the other nodes can be reached.
 *
 * Client library: node-redis (`redis`). It is Redis's own client, the first one the
 * streams adapter documents, promise-based with typed commands, and it reconnects and
 * re-subscribes by itself after an outage, which the adapter relies on.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Logger } from 'pino';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { withDeadline } from '../support/deadline';
import { MessageIdGenerator } from '../room/message-id';
import type { MessageStore } from '../room/store';
import { DEFAULT_ROOM, type ChatMessage } from '../protocol';

/** The lobby's history: a stream trimmed to HISTORY_SIZE entries (the key it had before rooms). */
export const HISTORY_KEY = 'chat:history';

/** Each room's history stream. */
export function historyKey(room: string): string {
  return room === DEFAULT_ROOM ? HISTORY_KEY : `${HISTORY_KEY}:${room}`;
}

/** A stream holding only its last entry: its ids are the message ids of every room. */
const IDS_KEY = 'chat:ids';

/**
 * Stamps and stores a message in one step. Stream ids only increase within one stream,
 * and two rooms' streams would hand out the same ids; so the id comes from one stream
 * for all rooms (Redis keeps it increasing even when its clock steps back), and the
 * message goes into its room's stream under that id, which is newer than anything there.
 * KEYS: ids stream, room stream. ARGV: room, HISTORY_SIZE, name, text, at.
 */
const STAMP_SCRIPT = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'room', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], id, 'name', ARGV[3], 'text', ARGV[4], 'at', ARGV[5])
return id`;

export interface RedisCluster extends MessageStore {
  /** Both connections are up: other nodes can be reached. */
  connected(): boolean;
  /** Stores the message in its room's stream; the id is unique across rooms. */
  stamp(room: string, name: string, text: string): Promise<ChatMessage>;
  /** A room's stored history, oldest first. */
  load(room: string): Promise<ChatMessage[]>;
  close(): Promise<void>;
}

/** A node starts only with Redis; after that it survives outages. */
const STARTUP_TIMEOUT_MS = 5_000;

/** Reconnect soon after an outage (node-redis's default waits up to 2 s between tries). */
const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);

function connect(url: string, role: string, logger: Logger, disableOfflineQueue: boolean) {
  const client = createClient({ url, disableOfflineQueue, socket: { reconnectStrategy } });
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
 * Connects and installs @socket.io/redis-streams-adapter on `io`: of the official Redis
 * adapters, the only one that supports connection state recovery (it replays missed
 * packets from the stream, and keeps sessions in Redis, so a client may come back on
 * any node).
 */
export async function setupRedis(url: string, io: Server, historySize: number, logger: Logger): Promise<RedisCluster> {
  // The adapter's connection keeps node-redis's offline queue: its blocking stream reader
  // then waits for the connection instead of spinning on errors during an outage.
  const adapterClient = connect(url, 'adapter', logger, false);
  // History and health fail fast instead: a message sent during an outage is stamped
  // locally and delivered locally at once, not held until Redis returns.
  const dataClient = connect(url, 'history', logger, true);
  // node-redis would retry for ever, and the server would wait, not listening, silently.
  const host = new URL(url).host;
  const failed = (why: string) => {
    adapterClient.destroy();
    dataClient.destroy();
    return new Error(`redis at ${host} ${why}`);
  };
  const answered = await withDeadline(Promise.all([adapterClient.connect(), dataClient.connect()]), STARTUP_TIMEOUT_MS).catch(
    (err: unknown) => {
      throw failed(`refused the connection: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
  if (!answered) throw failed(`did not answer within ${STARTUP_TIMEOUT_MS} ms`);
  io.adapter(createAdapter(adapterClient));

  const fallbackIds = new MessageIdGenerator();
  return {
    connected: () => adapterClient.isReady && dataClient.isReady,

    async stamp(room, name, text) {
      const at = Date.now();
      try {
        const id = await dataClient.eval(STAMP_SCRIPT, {
          keys: [IDS_KEY, historyKey(room)],
          arguments: [room, String(historySize), name, text, String(at)],
        });
        return { id: String(id), text, name, at };
      } catch (err) {
        // Unique on this node only, and not in the shared history: see README, failures.
        logger.debug({ err: (err as Error).message }, 'history unavailable; local id');
        return { id: fallbackIds.next().id, text, name, at };
      }
    },

    async load(room) {
      if (historySize === 0) return [];
      const entries = await dataClient.xRevRange(historyKey(room), '+', '-', { COUNT: historySize });
      return (entries ?? []).reverse().map(({ id, message }) => {
        const fields = message as Record<string, string>;
        return { id, text: fields.text ?? '', name: fields.name ?? '', at: Number(fields.at) };
      });
    },

    async close() {
      // After io.close(): the adapter has stopped its own duplicated connections.
      adapterClient.destroy();
      dataClient.destroy();
    },
  };
}
