import type { CapacityResult, WindowCpu } from './capacity-trial';

/**
 * What the capacity part reads from a trial (capacity-trial.ts): CPU per message of each
 * process, deliveries per CPU second of the whole server side, shares of a core. Each is
 * NaN where there was no /proc.
 */

/** Messages of the talking rooms in the window: their deliveries there over the clients each reaches. */
const messages = (r: CapacityResult) => r.deliveriesInWindow / r.audience;

/** CPU µs per message of the talking rooms, from CPU seconds in the window. */
const perMessageUs = (r: CapacityResult, seconds: (cpu: WindowCpu) => number) => (r.cpu === null ? Number.NaN : (seconds(r.cpu) / messages(r)) * 1e6);

/** Node `node`'s (0 is A, 1 is B) CPU µs per message. */
export const nodeUs = (node: number) => (r: CapacityResult) => perMessageUs(r, (cpu) => cpu.nodes[node] ?? Number.NaN);

/** Every redis-server's CPU µs per message, added up (one, or a Redis Cluster's three). */
export const redisUs = (r: CapacityResult) => perMessageUs(r, (cpu) => cpu.redis);

/** The busiest redis-server's CPU seconds in the window: on a Redis Cluster, its busiest master (NaN without Redis). */
export const busiestRedis = (cpu: WindowCpu) => (cpu.redisEach.length === 0 ? Number.NaN : Math.max(...cpu.redisEach));

/** The busiest redis-server's CPU µs per message. */
export const busiestRedisUs = (r: CapacityResult) => perMessageUs(r, busiestRedis);

/** The whole server side's CPU seconds in the window: every node and every redis-server. */
export const serverSideSeconds = (cpu: WindowCpu) => cpu.nodes.reduce((sum, n) => sum + n, 0) + cpu.redis;

/** Chats delivered per CPU second of the whole server side. */
export const deliveriesPerCpuSecond = (r: CapacityResult) => (r.cpu === null ? Number.NaN : r.deliveriesInWindow / serverSideSeconds(r.cpu));

export const percent = (fraction: number | null) => (fraction === null || !Number.isFinite(fraction) ? 'n/a' : `${(fraction * 100).toFixed(0)}%`);

/** CPU seconds in the window as a share of a core. */
export const share = (seconds: number, r: CapacityResult) => percent(seconds / r.windowSeconds);
