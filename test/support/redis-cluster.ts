import { REDIS_MISSING, REDIS_SERVER } from '../../tools/redis-process';
import { REDIS_CLI, REDIS_CLI_MISSING, startRedisClusterProcess, type RedisClusterProcess } from '../../tools/redis-cluster-process';
import { onCleanup } from './cleanup';
import { describeNeedingTool } from './needs-tool';

/**
 * `describe` for tests that need a real Redis Cluster: redis-server to run the nodes and
 * redis-cli to join them. Skipped with a warning when either is missing, unless
 * REQUIRE_REDIS=1 (set by .ci/run): then they fail, as describeWithRedis's tests do.
 */
export function describeWithRedisCluster(name: string, body: () => void): void {
  const tool =
    REDIS_SERVER === null
      ? { found: null, label: 'redis-server', missing: REDIS_MISSING }
      : { found: REDIS_CLI, label: 'redis-cli', missing: REDIS_CLI_MISSING };
  describeNeedingTool(name, { ...tool, requiredBy: 'REQUIRE_REDIS' }, body);
}

/** A throwaway three-master cluster, stopped after the test or file that started it. */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  const cluster = await startRedisClusterProcess();
  onCleanup('servers', () => cluster.stop());
  return cluster;
}
