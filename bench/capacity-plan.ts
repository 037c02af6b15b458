import type { Pair, Timed } from './plan';
import type { Profile } from './profiles';
import type { Delivery } from './room-trial';
import { finish, type Better, type Row, type Target, type Unit } from './rows';
import { median } from './stats';
import { RATE_PER_ROOM, runCapacityTrial, type CapacityLayout, type CapacityResult, type CapacitySetup, type CapacitySize } from './capacity-trial';

/**
 * Whether a second node adds capacity (issue #24): two nodes on Redis against one node
 * alone, in two layouts (capacity-trial.ts), each alternated two nodes, one node,
 * `profile.repetitions` times, every trial on fresh processes, the whole server side
 * (nodes, redis-server) on core 0 and the clients on core 1. In each pair `ours` is the
 * two nodes and `baseline` the one node.
 */
export type CapacityTrials = Record<CapacityLayout, Pair<CapacityResult>>;

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

/** The targets. */
const FOREIGN_SHARE_TARGET: Target = { ratio: 0.05 };
const NODE_CPU_TARGET: Target = { ratio: 1.2 };
const REDIS_CPU_TARGET: Target = { limit: 20 };
const P99_TARGET: Target = { ratio: 2 };
const EFFICIENCY_TARGET: Target = { ratio: 0.9 };

const LAYOUTS: readonly CapacityLayout[] = ['foreign', 'split'];
const SETUP_NAMES: Record<CapacitySetup, string> = { 'ours-redis-2': '2 nodes on Redis', ours: 'one node' };

/** Trials in runCapacityPlan. */
export function capacitySteps(profile: Profile): number {
  return LAYOUTS.length * 2 * profile.repetitions;
}

const messages = (r: CapacityResult) => r.deliveriesInWindow / r.audience;
/** CPU µs per message of the talking rooms, from CPU seconds in the window (NaN without /proc). */
const perMessageUs = (r: CapacityResult, seconds: (cpu: NonNullable<CapacityResult['cpu']>) => number) =>
  r.cpu === null ? Number.NaN : (seconds(r.cpu) / messages(r)) * 1e6;
const nodeUs = (node: number) => (r: CapacityResult) => perMessageUs(r, (cpu) => cpu.nodes[node] ?? Number.NaN);
const redisUs = (r: CapacityResult) => perMessageUs(r, (cpu) => cpu.redis);
/** Chats delivered per CPU second of the whole server side (every node and redis-server). */
const deliveriesPerCpuSecond = (r: CapacityResult) =>
  r.cpu === null ? Number.NaN : r.deliveriesInWindow / (r.cpu.nodes.reduce((sum, n) => sum + n, 0) + r.cpu.redis);

const percent = (fraction: number | null) => (fraction === null || !Number.isFinite(fraction) ? 'n/a' : `${(fraction * 100).toFixed(0)}%`);
const share = (seconds: number, r: CapacityResult) => percent(seconds / r.windowSeconds);

function line(r: CapacityResult): string {
  const cpu =
    r.cpu === null
      ? 'no /proc'
      : r.setup === 'ours'
        ? `node ${share(r.cpu.nodes[0] ?? 0, r)} of a core (${nodeUs(0)(r).toFixed(0)} µs/msg)`
        : `A ${share(r.cpu.nodes[0] ?? 0, r)} (${nodeUs(0)(r).toFixed(0)} µs/msg), B ${share(r.cpu.nodes[1] ?? 0, r)} (${nodeUs(1)(r).toFixed(0)} µs/msg), ` +
          `redis ${share(r.cpu.redis, r)} (${redisUs(r).toFixed(0)} µs/msg)`;
  const clients = r.cpu === null ? '' : `, clients ${share(r.cpu.clients, r)}; cores busy in all: server's ${percent(r.cpu.serverCore)}, clients' ${percent(r.cpu.clientCore)}`;
  const { delivered, expected, misrouted } = r.delivery;
  return (
    `${cpu}${clients}; ${Math.round(deliveriesPerCpuSecond(r))} deliveries per CPU s; p50 ${r.latency.p50Ms.toFixed(2)} ms, p99 ${r.latency.p99Ms.toFixed(2)} ms; ` +
    `${delivered}/${expected} delivered, ${misrouted ?? 0} strayed`
  );
}

/** Each layout, two nodes then one node, `profile.repetitions` times (A B A B ...). */
export async function runCapacityPlan(profile: Profile, timed: Timed): Promise<CapacityTrials> {
  const size = SIZES[profile.name];
  const { roomsPerNode: rooms, clientsPerRoom } = size;
  const describe: Record<CapacityLayout, string> = {
    foreign: `A: ${rooms} rooms x ${clientsPerRoom} talking, B: ${rooms * clientsPerRoom} idle`,
    split: `${2 * rooms} rooms x ${clientsPerRoom} talking, half on each node`,
  };
  const trials = {} as CapacityTrials;
  for (const layout of LAYOUTS) {
    const pair: Pair<CapacityResult> = { ours: [], baseline: [] };
    for (let r = 1; r <= profile.repetitions; r += 1) {
      for (const setup of ['ours-redis-2', 'ours'] as const) {
        const result = await timed(`capacity, ${describe[layout]}, ${SETUP_NAMES[setup]}, run ${r}`, () => runCapacityTrial(setup, layout, size, profile), line);
        (setup === 'ours' ? pair.baseline : pair.ours).push(result);
      }
    }
    trials[layout] = pair;
  }
  return trials;
}

/** A row from values per trial; `baseline` empty for a row held to a limit alone. */
function row(id: string, label: string, unit: Unit, better: Better, target: Target | null, ours: number[], baseline: number[], against: string, counted: readonly CapacityResult[]): Row {
  const ratios = baseline.length === 0 ? ours.map(() => Number.NaN) : ours.map((value, i) => value / (baseline[i] as number));
  const deliveries: Delivery[] = counted.map((r) => r.delivery);
  // The values are already read per trial: finish takes them as they are.
  const measure = { id, label, unit, better, target, value: () => Number.NaN, delivery: (r: Delivery) => r };
  return finish(measure, against, ours, baseline, ratios, deliveries);
}

/**
 * The rows: B's CPU per message of A's rooms against A's own (the foreign cost),
 * A's CPU per message and p99 against one node alone, redis-server's CPU per message, and
 * the split layout's deliveries per CPU second against one node's.
 */
export function buildCapacityRows(trials: CapacityTrials, profile: Profile): Row[] {
  const { roomsPerNode: rooms, clientsPerRoom } = SIZES[profile.name];
  const { foreign, split } = trials;
  const load = `${rooms} rooms x ${clientsPerRoom} raw on node A at ${RATE_PER_ROOM} msg/s a room (${rooms * RATE_PER_ROOM} msg/s), ${rooms * clientsPerRoom} idle on node B`;
  const oneNode = 'one node alone, the same load and clients';
  const all = [...foreign.ours, ...foreign.baseline];
  const aUs = foreign.ours.map(nodeUs(0));
  const p = (q: 'p50Ms' | 'p99Ms') => (results: readonly CapacityResult[]) => results.map((r) => r.latency[q]);
  return [
    row('capacity-foreign-cost', `Foreign cost: node B's CPU per message of node A's rooms, ${load}`, 'µs', 'lower', FOREIGN_SHARE_TARGET, foreign.ours.map(nodeUs(1)), aUs, "node A's own CPU per message", foreign.ours),
    row('capacity-node-cpu', `Node A's CPU per message, ${load}, 2 nodes on Redis`, 'µs', 'lower', NODE_CPU_TARGET, aUs, foreign.baseline.map(nodeUs(0)), oneNode, all),
    row('capacity-redis-cpu', `redis-server CPU per message, ${load}`, 'µs', 'lower', REDIS_CPU_TARGET, foreign.ours.map(redisUs), [], 'none', foreign.ours),
    row('capacity-latency-p50', `Latency p50 on node A's clients, ${load}, 2 nodes on Redis`, 'ms', 'lower', null, p('p50Ms')(foreign.ours), p('p50Ms')(foreign.baseline), oneNode, all),
    row('capacity-latency-p99', `Latency p99 on node A's clients, ${load}, 2 nodes on Redis`, 'ms', 'lower', P99_TARGET, p('p99Ms')(foreign.ours), p('p99Ms')(foreign.baseline), oneNode, all),
    row(
      'capacity-split-efficiency',
      `Deliveries per CPU second (nodes and redis-server added up), ${2 * rooms} rooms x ${clientsPerRoom} raw at ${RATE_PER_ROOM} msg/s a room, each node serving its own half, 2 nodes on Redis`,
      'deliveries/s',
      'higher',
      EFFICIENCY_TARGET,
      split.ours.map(deliveriesPerCpuSecond),
      split.baseline.map(deliveriesPerCpuSecond),
      `one process, all ${2 * rooms} rooms`,
      [...split.ours, ...split.baseline],
    ),
  ];
}

/** Under the table: the layouts, and how busy each process and the clients were (medians). */
export function capacityNote(trials: CapacityTrials, profile: Profile): string {
  const { warmupMs, measureMs } = SIZES[profile.name];
  const busy = (results: readonly CapacityResult[], seconds: (cpu: NonNullable<CapacityResult['cpu']>) => number) =>
    percent(median(results.map((r) => (r.cpu === null ? Number.NaN : seconds(r.cpu) / r.windowSeconds))));
  // Whoever ran there: ours, and any other program on the same core.
  const core = (results: readonly CapacityResult[], which: 'serverCore' | 'clientCore') => percent(median(results.map((r) => r.cpu?.[which] ?? Number.NaN)));
  const { foreign, split } = trials;
  const total = (cpu: NonNullable<CapacityResult['cpu']>) => cpu.nodes.reduce((sum, n) => sum + n, 0) + cpu.redis;
  return (
    `Capacity (bench/capacity-plan.ts): one talker per room at ${RATE_PER_ROOM} msg/s on a fixed schedule, ${warmupMs / 1000} s warm-up, ${measureMs / 1000} s measured, ` +
    `two nodes on Redis and one node alone (SQLite) alternated; node B's idle clients are half raw, half Socket.IO, and the one node holds them too. ` +
    `Shares of a core in the window (medians): A ${busy(foreign.ours, (c) => c.nodes[0] ?? 0)}, B ${busy(foreign.ours, (c) => c.nodes[1] ?? 0)}, ` +
    `redis-server ${busy(foreign.ours, (c) => c.redis)}, one node ${busy(foreign.baseline, (c) => c.nodes[0] ?? 0)}; clients ${busy(foreign.ours, (c) => c.clients)} and ${busy(foreign.baseline, (c) => c.clients)}. ` +
    `Split layout: the server side ${busy(split.ours, total)} on two nodes, ${busy(split.baseline, total)} on one; clients ${busy(split.ours, (c) => c.clients)} and ${busy(split.baseline, (c) => c.clients)}. ` +
    `The server's core busy in all, whoever ran there (above the shares of ours, another program shared it): ${core(foreign.ours, 'serverCore')} and ${core(foreign.baseline, 'serverCore')} (foreign rooms, two nodes and one), ` +
    `${core(split.ours, 'serverCore')} and ${core(split.baseline, 'serverCore')} (split); the clients' core: ${core(foreign.ours, 'clientCore')}, ${core(foreign.baseline, 'clientCore')}, ` +
    `${core(split.ours, 'clientCore')}, ${core(split.baseline, 'clientCore')}.`
  );
}
