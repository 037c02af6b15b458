import { coreTicks, cpuSeconds } from './cpu';
import { Fleet, joinNotices, sleep, type WorkerGroup } from './fleet';
import { summarize, type LatencySummary } from './histogram';
import type { HistogramData, Phases } from './ipc';
import { roomNames } from './many-rooms';
import { assertNoErrors, type Delivery } from './room-trial';
import { CLIENT_CPU, SERVER_CPU } from './server-side';

/** The deployments the capacity part compares: two nodes on one Redis or on a Redis Cluster of three masters, and one node alone. */
export type CapacitySetup = 'ours-redis-2' | 'ours-redis-cluster-2' | 'ours';

/**
 * `foreign`: node A's rooms talk, node B holds idle clients (half raw, half Socket.IO) in
 * as many other rooms; `split`: every room talks, each node serving its own half.
 */
export type CapacityLayout = 'foreign' | 'split';

/** The sizes of one trial, per node: its rooms, the clients in each, the warm-up and the measured window. */
export interface CapacitySize {
  roomsPerNode: number;
  clientsPerRoom: number;
  warmupMs: number;
  measureMs: number;
}

/** Messages per second from each room's one talker, on a fixed schedule (never saturated). */
export const RATE_PER_ROOM = 40;

/** CPU seconds used inside the measured window, read from /proc. */
export interface WindowCpu {
  /** Each node's processes added up, in the order of the server side's URLs (node A first). */
  nodes: number[];
  /** Every redis-server's added up (0 where the setup has none). */
  redis: number;
  /** Each redis-server's: one, or a Redis Cluster's three masters (none on one node). */
  redisEach: number[];
  /** All client workers added up. */
  clients: number;
  /**
   * How busy the server's core and the clients' core were in the window, whoever ran on
   * them (shares, 1 being all of it; null where /proc/stat says nothing of them): above
   * the processes' own shares, another program shared the core.
   */
  serverCore: number | null;
  clientCore: number | null;
}

export interface CapacityResult {
  setup: CapacitySetup;
  layout: CapacityLayout;
  /** Null where there is no /proc. */
  cpu: WindowCpu | null;
  windowSeconds: number;
  /** Chats that reached the talking rooms' clients inside the window; divided by `audience`, messages. */
  deliveriesInWindow: number;
  /** Clients each message must reach: its room, the talker included. */
  audience: number;
  latency: LatencySummary;
  /** Every chat sent, times its room; `misrouted`: chats to a client of another room, or more than owed. */
  delivery: Delivery;
}

/** Lead time so that every worker has its orders before the warm-up begins. */
const START_LEAD_MS = 50;
/** After the window, so that every worker's own end-of-window timer has fired. */
const END_GRACE_MS = 50;
/** Client workers, two per node: Fleet sends group i to node i % nodes. */
const WORKERS = 4;

interface Layout {
  groups: WorkerGroup[];
  /** Worker i's clients that talk: one per talking room. */
  talkers(worker: number): number[];
  /** Workers whose clients are in rooms nobody talks in: any chat they get strayed there. */
  quiet: number[];
  audience: number;
  notices: number;
}

/**
 * Four client workers of `roomsPerNode x clientsPerRoom / 2` clients each. On two nodes
 * the even groups are node A's (A's rooms, raw) and the odd ones node B's (B's rooms:
 * raw, and Socket.IO in `foreign`); on one node all four are its, so it holds the same
 * rooms and connections. Each worker deals its clients into its rooms in turn, so its
 * client r is in room r: room r's talker is client r of the first worker of its node
 * for even r, of the second for odd r.
 */
function layoutOf(layout: CapacityLayout, size: CapacitySize): Layout {
  const { roomsPerNode: rooms, clientsPerRoom } = size;
  if (clientsPerRoom % 2 !== 0) throw new Error(`capacity: ${clientsPerRoom} clients a room, not an even number`);
  const names = roomNames(2 * rooms);
  const aRooms = names.slice(0, rooms);
  const bRooms = names.slice(rooms);
  const count = (rooms * clientsPerRoom) / 2;
  const idleB = layout === 'foreign';
  const talking = idleB ? [0, 2] : [0, 1, 2, 3];
  return {
    groups: [
      { kind: 'raw', count, rooms: aRooms },
      { kind: 'raw', count, rooms: bRooms },
      { kind: 'raw', count, rooms: aRooms },
      { kind: idleB ? 'sio' : 'raw', count, rooms: bRooms },
    ],
    talkers: (worker) =>
      talking.includes(worker) ? Array.from({ length: rooms }, (_, room) => room).filter((room) => room % 2 === Math.floor(worker / 2)) : [],
    quiet: idleB ? [1, 3] : [],
    audience: clientsPerRoom,
    notices: 2 * rooms * joinNotices(clientsPerRoom),
  };
}

/**
 * One trial on fresh processes: connect every client and wait for every join notice, then
 * each talking room's talker sends RATE_PER_ROOM messages/s (the workers' open-loop probe)
 * through a warm-up and a measured window, over which the CPU of each node, of
 * each redis-server and of the clients is read from /proc; every client records the latency of
 * what it gets in the window. Then every message must reach every client of its room.
 */
export async function runCapacityTrial(
  setup: CapacitySetup,
  layout: CapacityLayout,
  size: CapacitySize,
  limits: { connectConcurrency: number; connectTimeoutMs: number; stallMs: number },
): Promise<CapacityResult> {
  const plan = layoutOf(layout, size);
  if (plan.groups.length !== WORKERS) throw new Error('capacity: one worker group per worker');
  const fleet = await Fleet.start(setup, plan.groups);
  try {
    await fleet.connect(limits.connectConcurrency, limits.connectTimeoutMs);
    const settled = await fleet.waitFor((t) => t.notices >= plan.notices, limits.stallMs);
    assertNoErrors(settled, 'connecting');
    // Across nodes two joins can cross and both be told of both (see runRoomTrial).
    const short = fleet.server.isCluster ? settled.notices < plan.notices : settled.notices !== plan.notices;
    if (short) throw new Error(`${setup}: ${settled.notices} of ${plan.notices} join notices arrived`);

    const phases: Phases = { startAt: Date.now() + START_LEAD_MS, warmupMs: size.warmupMs, measureMs: size.measureMs };
    await fleet.broadcast((i) => ({ cmd: 'latency', phases, rate: RATE_PER_ROOM, senders: plan.talkers(i) }));
    const { cpu, seconds } = await watchWindow(fleet, phases);
    const totals = await fleet.waitFor((t) => t.chats >= t.sent * plan.audience, limits.stallMs);
    assertNoErrors(totals, 'sending');
    const perWorker = await fleet.counters();
    const histograms = await fleet.broadcast<HistogramData>(() => ({ cmd: 'histogram' }));

    const expected = totals.sent * plan.audience;
    let delivered = 0;
    let deliveriesInWindow = 0;
    let misrouted = 0;
    perWorker.forEach((counters, i) => {
      const chats = counters.chats[0] + counters.chats[1] + counters.chats[2];
      misrouted += counters.misrouted;
      if (plan.quiet.includes(i)) {
        misrouted += chats;
        return;
      }
      delivered += chats;
      deliveriesInWindow += counters.chats[1];
    });
    // Each client is owed each message of its room once: anything beyond came from elsewhere.
    misrouted += Math.max(0, delivered - expected);
    delivered = Math.min(delivered, expected);
    return {
      setup,
      layout,
      cpu,
      windowSeconds: seconds,
      deliveriesInWindow,
      audience: plan.audience,
      latency: summarize(histograms),
      delivery: { delivered, expected, misrouted },
    };
  } finally {
    await fleet.stop();
  }
}

interface CpuReading {
  nodes: number[];
  redisEach: number[];
  clients: number;
  serverCore: CoreTicks;
  clientCore: CoreTicks;
}

type CoreTicks = ReturnType<typeof coreTicks>;

/** CPU seconds so far of each node, of each redis-server and of the client workers, and both cores' ticks; null without /proc. */
function readCpu(fleet: Fleet): CpuReading | null {
  const sum = (pids: readonly number[]) => {
    const each = pids.map(cpuSeconds);
    return each.some((s) => s === null) ? null : each.reduce<number>((total, s) => total + (s as number), 0);
  };
  const nodes = fleet.server.nodePids.map(sum);
  const redisEach = fleet.server.redisPids.map(cpuSeconds);
  const clients = sum(fleet.workers.map((worker) => worker.pid));
  if (clients === null || nodes.some((n) => n === null) || redisEach.some((r) => r === null)) return null;
  return { nodes: nodes as number[], redisEach: redisEach as number[], clients, serverCore: coreTicks(SERVER_CPU), clientCore: coreTicks(CLIENT_CPU) };
}

function busyShare(before: CoreTicks, after: CoreTicks): number | null {
  return before === null || after === null || after.total === before.total ? null : (after.busy - before.busy) / (after.total - before.total);
}

/** Sleeps through the phases, reading the CPU at the window's start and end. */
async function watchWindow(fleet: Fleet, phases: Phases): Promise<{ cpu: WindowCpu | null; seconds: number }> {
  const windowStart = phases.startAt + phases.warmupMs;
  await sleep(windowStart - Date.now());
  const before = readCpu(fleet);
  const wallBefore = Date.now();
  await sleep(windowStart + phases.measureMs - Date.now());
  const after = readCpu(fleet);
  const seconds = (Date.now() - wallBefore) / 1000;
  await sleep(END_GRACE_MS);
  if (before === null || after === null) return { cpu: null, seconds };
  const redisEach = after.redisEach.map((r, i) => r - (before.redisEach[i] as number));
  return {
    cpu: {
      nodes: after.nodes.map((n, i) => n - (before.nodes[i] as number)),
      redis: redisEach.reduce((total, r) => total + r, 0),
      redisEach,
      clients: after.clients - before.clients,
      serverCore: busyShare(before.serverCore, after.serverCore),
      clientCore: busyShare(before.clientCore, after.clientCore),
    },
    seconds,
  };
}
