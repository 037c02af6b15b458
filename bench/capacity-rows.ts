import type { Profile } from './profiles';
import type { Delivery } from './room-trial';
import { finish, type Better, type Row, type Target, type Unit } from './rows';
import { median } from './stats';
import { busiestRedis, busiestRedisUs, deliveriesPerCpuSecond, nodeUs, percent, redisUs, serverSideSeconds } from './capacity-measures';
import { capacitySize, type CapacityTrials } from './capacity-plan';
import { RATE_PER_ROOM, type CapacityResult, type WindowCpu } from './capacity-trial';

/**
 * The capacity part's rows (capacity-plan.ts runs the trials): first the issue's, two
 * nodes on one Redis against one node alone, held to the targets; then the same
 * measures on a Redis Cluster of three masters, with no target (the issue set its
 * targets for one Redis: these rows say what the cluster changes, read against those).
 */

/** The targets, for two nodes on one Redis. */
const FOREIGN_SHARE_TARGET: Target = { ratio: 0.05 };
const NODE_CPU_TARGET: Target = { ratio: 1.2 };
const REDIS_CPU_TARGET: Target = { limit: 20 };
const P99_TARGET: Target = { ratio: 2 };
const EFFICIENCY_TARGET: Target = { ratio: 0.9 };

/** A row from values per trial; `baseline` empty for a row held to a limit alone. */
function row(id: string, label: string, unit: Unit, better: Better, target: Target | null, ours: number[], baseline: number[], against: string, counted: readonly CapacityResult[]): Row {
  const ratios = baseline.length === 0 ? ours.map(() => Number.NaN) : ours.map((value, i) => value / (baseline[i] as number));
  const deliveries: Delivery[] = counted.map((r) => r.delivery);
  // The values are already read per trial: finish takes them as they are.
  const measure = { id, label, unit, better, target, value: () => Number.NaN, delivery: (r: Delivery) => r };
  return finish(measure, against, ours, baseline, ratios, deliveries);
}

const p = (q: 'p50Ms' | 'p99Ms') => (results: readonly CapacityResult[]) => results.map((r) => r.latency[q]);

/**
 * The rows: B's CPU per message of A's rooms against A's own (the foreign cost),
 * A's CPU per message and p99 against one node alone, redis-server's CPU per message, and
 * the split layout's deliveries per CPU second against one node's. Then the Redis
 * Cluster's: the same but p50, and Redis's CPU per message as the three masters added up
 * and as the busiest master's, each against the one redis-server's of the same round.
 */
export function buildCapacityRows(trials: CapacityTrials, profile: Profile): Row[] {
  const { roomsPerNode: rooms, clientsPerRoom } = capacitySize(profile);
  const { foreign, split } = trials;
  const load = `${rooms} rooms x ${clientsPerRoom} raw on node A at ${RATE_PER_ROOM} msg/s a room (${rooms * RATE_PER_ROOM} msg/s), ${rooms * clientsPerRoom} idle on node B`;
  const oneNode = 'one node alone, the same load and clients';
  const splitLoad = `${2 * rooms} rooms x ${clientsPerRoom} raw at ${RATE_PER_ROOM} msg/s a room, each node serving its own half`;
  const oneProcess = `one process, all ${2 * rooms} rooms`;
  const all = [...foreign.ours, ...foreign.baseline];
  const aUs = foreign.ours.map(nodeUs(0));
  const onCluster = 'on a Redis Cluster of 3 masters';
  const clusterAll = [...foreign.cluster, ...foreign.baseline];
  const clusterAUs = foreign.cluster.map(nodeUs(0));
  const oneRedis = 'one redis-server: 2 nodes on one Redis, the same round';
  /** The split layout's deliveries per CPU second, two nodes (`nodes`, with `redis` added up) against one process. */
  const splitRow = (id: string, redis: string, on: string, target: Target | null, nodes: readonly CapacityResult[]) =>
    row(
      id,
      `Deliveries per CPU second (nodes and ${redis} added up), ${splitLoad}, 2 nodes ${on}`,
      'deliveries/s',
      'higher',
      target,
      nodes.map(deliveriesPerCpuSecond),
      split.baseline.map(deliveriesPerCpuSecond),
      oneProcess,
      [...nodes, ...split.baseline],
    );
  return [
    row('capacity-foreign-cost', `Foreign cost: node B's CPU per message of node A's rooms, ${load}`, 'µs', 'lower', FOREIGN_SHARE_TARGET, foreign.ours.map(nodeUs(1)), aUs, "node A's own CPU per message", foreign.ours),
    row('capacity-node-cpu', `Node A's CPU per message, ${load}, 2 nodes on Redis`, 'µs', 'lower', NODE_CPU_TARGET, aUs, foreign.baseline.map(nodeUs(0)), oneNode, all),
    row('capacity-redis-cpu', `redis-server CPU per message, ${load}`, 'µs', 'lower', REDIS_CPU_TARGET, foreign.ours.map(redisUs), [], 'none', foreign.ours),
    row('capacity-latency-p50', `Latency p50 on node A's clients, ${load}, 2 nodes on Redis`, 'ms', 'lower', null, p('p50Ms')(foreign.ours), p('p50Ms')(foreign.baseline), oneNode, all),
    row('capacity-latency-p99', `Latency p99 on node A's clients, ${load}, 2 nodes on Redis`, 'ms', 'lower', P99_TARGET, p('p99Ms')(foreign.ours), p('p99Ms')(foreign.baseline), oneNode, all),
    splitRow('capacity-split-efficiency', 'redis-server', 'on Redis', EFFICIENCY_TARGET, split.ours),
    row('capacity-cluster-foreign-cost', `Foreign cost ${onCluster}: node B's CPU per message of node A's rooms, ${load}`, 'µs', 'lower', null, foreign.cluster.map(nodeUs(1)), clusterAUs, "node A's own CPU per message", foreign.cluster),
    row('capacity-cluster-node-cpu', `Node A's CPU per message, ${load}, 2 nodes ${onCluster}`, 'µs', 'lower', null, clusterAUs, foreign.baseline.map(nodeUs(0)), oneNode, clusterAll),
    row('capacity-cluster-redis-cpu', `redis-servers' CPU per message, the 3 masters added up, ${load}, 2 nodes ${onCluster}`, 'µs', 'lower', null, foreign.cluster.map(redisUs), foreign.ours.map(redisUs), oneRedis, [...foreign.cluster, ...foreign.ours]),
    row('capacity-cluster-redis-busiest-cpu', `The busiest master's CPU per message, ${load}, 2 nodes ${onCluster}`, 'µs', 'lower', null, foreign.cluster.map(busiestRedisUs), foreign.ours.map(redisUs), oneRedis, [...foreign.cluster, ...foreign.ours]),
    row('capacity-cluster-latency-p99', `Latency p99 on node A's clients, ${load}, 2 nodes ${onCluster}`, 'ms', 'lower', null, p('p99Ms')(foreign.cluster), p('p99Ms')(foreign.baseline), oneNode, clusterAll),
    splitRow('capacity-cluster-split-efficiency', 'the 3 redis-servers', onCluster, null, split.cluster),
  ];
}

/** Under the table: the layouts, and how busy each process and the clients were (medians). */
export function capacityNote(trials: CapacityTrials, profile: Profile): string {
  const { warmupMs, measureMs } = capacitySize(profile);
  const busy = (results: readonly CapacityResult[], seconds: (cpu: WindowCpu) => number) =>
    percent(median(results.map((r) => (r.cpu === null ? Number.NaN : seconds(r.cpu) / r.windowSeconds))));
  // Whoever ran there: ours, and any other program on the same core.
  const core = (results: readonly CapacityResult[], which: 'serverCore' | 'clientCore') => percent(median(results.map((r) => r.cpu?.[which] ?? Number.NaN)));
  const { foreign, split } = trials;
  const busiestOfThree = (results: readonly CapacityResult[]) => percent(median(results.map((r) => (r.cpu === null ? Number.NaN : busiestRedis(r.cpu) / r.cpu.redis))));
  return (
    `Capacity (bench/capacity-plan.ts): one talker per room at ${RATE_PER_ROOM} msg/s on a fixed schedule, ${warmupMs / 1000} s warm-up, ${measureMs / 1000} s measured, ` +
    `two nodes on Redis, two nodes on a Redis Cluster of three masters (REDIS_CLUSTER=1) and one node alone (SQLite) in turn; node B's idle clients are half raw, half Socket.IO, and the one node holds them too. ` +
    `The Redis Cluster rows have no target: the issue set its targets for one Redis; they show what the cluster changes against the rows above them. ` +
    `Shares of a core in the window (medians): A ${busy(foreign.ours, (c) => c.nodes[0] ?? 0)}, B ${busy(foreign.ours, (c) => c.nodes[1] ?? 0)}, ` +
    `redis-server ${busy(foreign.ours, (c) => c.redis)}, one node ${busy(foreign.baseline, (c) => c.nodes[0] ?? 0)}; clients ${busy(foreign.ours, (c) => c.clients)} and ${busy(foreign.baseline, (c) => c.clients)}. ` +
    `On the Redis Cluster: A ${busy(foreign.cluster, (c) => c.nodes[0] ?? 0)}, B ${busy(foreign.cluster, (c) => c.nodes[1] ?? 0)}, the three masters ${busy(foreign.cluster, (c) => c.redis)} added up, ` +
    `the busiest ${busy(foreign.cluster, busiestRedis)} (${busiestOfThree(foreign.cluster)} of the three's CPU); clients ${busy(foreign.cluster, (c) => c.clients)}. ` +
    `Split layout: the server side ${busy(split.ours, serverSideSeconds)} on two nodes on Redis, ${busy(split.cluster, serverSideSeconds)} on the Redis Cluster ` +
    `(its busiest master ${busy(split.cluster, busiestRedis)}, ${busiestOfThree(split.cluster)} of the three's), ${busy(split.baseline, serverSideSeconds)} on one; ` +
    `clients ${busy(split.ours, (c) => c.clients)}, ${busy(split.cluster, (c) => c.clients)} and ${busy(split.baseline, (c) => c.clients)}. ` +
    `The server's core busy in all, whoever ran there (above the shares of ours, another program shared it): ` +
    `${core(foreign.ours, 'serverCore')}, ${core(foreign.cluster, 'serverCore')} and ${core(foreign.baseline, 'serverCore')} (foreign rooms: one Redis, the cluster, one node), ` +
    `${core(split.ours, 'serverCore')}, ${core(split.cluster, 'serverCore')} and ${core(split.baseline, 'serverCore')} (split); the clients' core: ` +
    `${core(foreign.ours, 'clientCore')}, ${core(foreign.cluster, 'clientCore')}, ${core(foreign.baseline, 'clientCore')} and ` +
    `${core(split.ours, 'clientCore')}, ${core(split.cluster, 'clientCore')}, ${core(split.baseline, 'clientCore')}.`
  );
}
