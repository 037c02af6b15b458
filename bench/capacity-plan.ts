import type { Pair, Timed } from './plan';
import type { Profile } from './profiles';
import { busiestRedis, deliveriesPerCpuSecond, nodeUs, percent, redisUs, share } from './capacity-measures';
import { runCapacityTrial, type CapacityLayout, type CapacityResult, type CapacitySetup, type CapacitySize } from './capacity-trial';

/**
 * Whether a second node adds capacity (issue #24): two nodes on one Redis, and two nodes
 * on a Redis Cluster of three masters, against one node alone, in two layouts
 * (capacity-trial.ts). Each layout runs the three setups in turn (one Redis, the
 * cluster, one node), `profile.repetitions` times, every trial on fresh processes, the
 * whole server side (nodes, every redis-server) on core 0 and the clients on core 1. In
 * each layout `ours` is the two nodes on one Redis, `cluster` the two on the Redis
 * Cluster and `baseline` the one node: trial i of each comes from the same round.
 * capacity-rows.ts makes the rows.
 */
export interface CapacityLayoutTrials extends Pair<CapacityResult> {
  cluster: CapacityResult[];
}

export type CapacityTrials = Record<CapacityLayout, CapacityLayoutTrials>;

/**
 * The load at full size: node A 50 rooms x 10, node B as many clients in 50 other
 * rooms; a 20 s window after a warm-up. The smaller profiles shrink it to see every row
 * run and every delivery counted, not to judge a target.
 */
const SIZES: Record<Profile['name'], CapacitySize> = {
  full: { roomsPerNode: 50, clientsPerRoom: 10, warmupMs: 2_000, measureMs: 20_000 },
  quick: { roomsPerNode: 10, clientsPerRoom: 10, warmupMs: 1_000, measureMs: 5_000 },
  tiny: { roomsPerNode: 4, clientsPerRoom: 4, warmupMs: 200, measureMs: 500 },
};

export function capacitySize(profile: Profile): CapacitySize {
  return SIZES[profile.name];
}

const LAYOUTS: readonly CapacityLayout[] = ['foreign', 'split'];
/** The order of each round. */
const SETUPS: readonly CapacitySetup[] = ['ours-redis-2', 'ours-redis-cluster-2', 'ours'];
const SETUP_NAMES: Record<CapacitySetup, string> = {
  'ours-redis-2': '2 nodes on Redis',
  'ours-redis-cluster-2': '2 nodes on a Redis Cluster',
  ours: 'one node',
};

/** Trials in runCapacityPlan. */
export function capacitySteps(profile: Profile): number {
  return LAYOUTS.length * SETUPS.length * profile.repetitions;
}

/** A trial's progress line: each process's share of its core and CPU per message, latency, deliveries. */
function line(r: CapacityResult): string {
  const perMessage = (seconds: number, us: number) => `${share(seconds, r)} (${us.toFixed(0)} µs/msg)`;
  let cpu = 'no /proc';
  if (r.cpu !== null && r.setup === 'ours') cpu = `node ${perMessage(r.cpu.nodes[0] ?? 0, nodeUs(0)(r))} of a core`;
  else if (r.cpu !== null) {
    const masters = r.cpu.redisEach.length > 1 ? ` (masters ${r.cpu.redisEach.map((s) => share(s, r)).join(', ')}; busiest ${percent(busiestRedis(r.cpu) / r.cpu.redis)} of the three)` : '';
    cpu = `A ${perMessage(r.cpu.nodes[0] ?? 0, nodeUs(0)(r))}, B ${perMessage(r.cpu.nodes[1] ?? 0, nodeUs(1)(r))}, redis ${perMessage(r.cpu.redis, redisUs(r))}${masters}`;
  }
  const clients = r.cpu === null ? '' : `, clients ${share(r.cpu.clients, r)}; cores busy in all: server's ${percent(r.cpu.serverCore)}, clients' ${percent(r.cpu.clientCore)}`;
  const { delivered, expected, misrouted } = r.delivery;
  return (
    `${cpu}${clients}; ${Math.round(deliveriesPerCpuSecond(r))} deliveries per CPU s; p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms; ` +
    `${delivered}/${expected} delivered, ${misrouted ?? 0} strayed`
  );
}

/** Each layout, in rounds of two nodes on Redis, two on the Redis Cluster, one node, `profile.repetitions` times. */
export async function runCapacityPlan(profile: Profile, timed: Timed): Promise<CapacityTrials> {
  const size = SIZES[profile.name];
  const { roomsPerNode: rooms, clientsPerRoom } = size;
  const describe: Record<CapacityLayout, string> = {
    foreign: `A: ${rooms} rooms x ${clientsPerRoom} talking, B: ${rooms * clientsPerRoom} idle`,
    split: `${2 * rooms} rooms x ${clientsPerRoom} talking, half on each node`,
  };
  const trials = {} as CapacityTrials;
  for (const layout of LAYOUTS) {
    const bySetup: Record<CapacitySetup, CapacityResult[]> = { 'ours-redis-2': [], 'ours-redis-cluster-2': [], ours: [] };
    for (let r = 1; r <= profile.repetitions; r += 1) {
      for (const setup of SETUPS) {
        const result = await timed(`capacity, ${describe[layout]}, ${SETUP_NAMES[setup]}, run ${r}`, () => runCapacityTrial(setup, layout, size, profile), line);
        bySetup[setup].push(result);
      }
    }
    trials[layout] = { ours: bySetup['ours-redis-2'], cluster: bySetup['ours-redis-cluster-2'], baseline: bySetup.ours };
  }
  return trials;
}
