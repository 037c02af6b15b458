import type { Logger } from 'pino';
import type { Config } from '../config';
import type { BanStore } from './ban-store';
import { MemoryBanStore } from './memory-ban-store';
import { RedisBanStore, type BanRedisClient } from './redis-ban-store';
import { SqliteBanStore } from './sqlite-ban-store';

/**
 * Where this node keeps bans, beside its messages: with REDIS_URL the hash every node
 * shares, through `redis` (the history's connection, made by the cluster setup); else
 * `moderation.sqlite` under DATA_DIR, which workers of WORKERS > 1 share; or memory when
 * DATA_DIR is `:memory:`. Throws DataDirError when DATA_DIR cannot be used.
 */
export function openBanStore(config: Pick<Config, 'dataDir' | 'redisUrl'>, logger: Logger, redis?: BanRedisClient): BanStore {
  if (config.redisUrl !== null) {
    if (redis === undefined) throw new Error('REDIS_URL is set: the ban store needs the cluster’s Redis connection');
    return new RedisBanStore(redis, logger);
  }
  if (config.dataDir === null) return new MemoryBanStore();
  return new SqliteBanStore({ dir: config.dataDir, logger });
}
