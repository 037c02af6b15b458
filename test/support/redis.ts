import { REDIS_MISSING, REDIS_SERVER, startRedisProcess, type RedisProcess } from '../../tools/redis-process';
import { createClient } from 'redis';
import { onCleanup } from './cleanup';
import { describeNeedingTool } from './needs-tool';

/**
 * `describe` for tests that need a real Redis. Without redis-server they are skipped
 * with a warning, unless REQUIRE_REDIS=1 (set by .ci/run): then they fail.
 */
export function describeWithRedis(name: string, body: () => void): void {
  describeNeedingTool(name, { found: REDIS_SERVER, label: 'redis-server', missing: REDIS_MISSING, requiredBy: 'REQUIRE_REDIS' }, body);
}

/** A throwaway redis-server, stopped after the test or file that started it. */
export async function startRedis(): Promise<RedisProcess> {
  const redis = await startRedisProcess();
  onCleanup('servers', () => redis.stop());
  return redis;
}

/** The options server/cluster/redis.ts gives the history's connection. */
const reconnectStrategy = (retries: number) => Math.min(50 * 2 ** retries, 500);

/**
 * A client connected as the server's history connection is (no offline queue, quick
 * reconnects), destroyed at cleanup. Its errors are left to the calls that meet them: a
 * test that stops Redis loses the connection on purpose.
 */
export async function connectRedisClient(url: string) {
  const client = createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy } });
  client.on('error', () => undefined);
  await client.connect();
  onCleanup('clients', () => client.destroy());
  return client;
}
export type RedisTestClient = Awaited<ReturnType<typeof connectRedisClient>>;
