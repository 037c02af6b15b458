import { REDIS_MISSING, REDIS_SERVER, startRedisProcess, type RedisProcess } from '../../tools/redis-process';
import { onCleanup } from './cleanup';

/**
 * `describe` for tests that need a real Redis. Without redis-server they are skipped
 * with a warning, unless REQUIRE_REDIS=1 (set by .ci/run): then they fail.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (REDIS_SERVER !== null) {
    describe(name, body);
    return;
  }
  if (process.env.REQUIRE_REDIS === '1') {
    describe(name, () => {
      it('needs redis-server', () => {
        throw new Error(`${REDIS_MISSING}, and REQUIRE_REDIS=1`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${REDIS_MISSING}`);
  describe.skip(name, body);
}

/** A throwaway redis-server, stopped after the test or file that started it. */
export async function startRedis(): Promise<RedisProcess> {
  const redis = await startRedisProcess();
  onCleanup('servers', () => redis.stop());
  return redis;
}
