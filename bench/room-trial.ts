import { Fleet, joinNotices, sleep, type Totals, type WorkerGroup } from './fleet';
import { summarize, type LatencySummary } from './histogram';
import type { HistogramData, Phases, ServerSetup } from './ipc';
import type { Profile } from './profiles';

/** Every chat sent, times every client in its room: what "all delivered" means. */
export interface Delivery {
  delivered: number;
  expected: number;
  /**
   * Deliveries to a client of another room, counted apart from `delivered` (in trials with
   * several rooms; absent elsewhere). Any is a failure, even with delivered = expected.
   */
  misrouted?: number;
  /**
   * Deliveries beyond `expected` that a count cannot tell from the expected ones (join
   * notices in a storm with probes: see storm-trial.ts); not in `delivered`, and no failure.
   */
  surplus?: number;
}

/** Shares of one core used during a measured window (null where there is no /proc). */
export interface CpuShares {
  serverCpu: number | null;
  /** All client workers together; near 1.0 would mean the clients, not the server, set the pace. */
  clientCpu: number | null;
}

export interface RoomResult {
  server: ServerSetup;
  clients: number;
  latency: LatencySummary & Delivery & CpuShares;
  fanout: Delivery & CpuShares & { deliveriesPerSecond: number };
}

/**
 * Who sends in a room trial, and whom each message must reach. Senders are given as each
 * worker's own client indexes (client-worker.ts).
 */
export interface Talkers {
  /** Rooms in the trial; with more than one, the workers count deliveries to the wrong room. */
  rooms: number;
  /**
   * Worker i's clients that send in the latency probe, each at `profile.latencyRate`;
   * null: no latency probe in this trial (its `latency` is then NO_LATENCY).
   */
  latency: ((worker: number) => number[]) | null;
  /** Worker i's clients that run the closed fan-out loop. */
  fanout(worker: number): number[];
  /** Messages each of them keeps in flight. */
  window: number;
  /** How many clients each message must reach: everyone in its room, the sender included. */
  audience: number;
  /** Join notices due once every client has connected to one process. */
  notices: number;
}

/**
 * One room: the first client of the first worker probes latency, and `profile.senders`
 * clients spread over the workers (so both kinds send in a mixed room) run the fan-out.
 */
export function oneRoom(groups: readonly WorkerGroup[], profile: Profile): Talkers {
  const workers = groups.length;
  const clients = groups.reduce((sum, group) => sum + group.count, 0);
  const senders = (i: number) => Math.floor(profile.senders / workers) + (i < profile.senders % workers ? 1 : 0);
  return {
    rooms: 1,
    latency: (i) => (i === 0 ? [0] : []),
    fanout: (i) => Array.from({ length: senders(i) }, (_, index) => index),
    window: profile.window,
    audience: clients,
    notices: joinNotices(clients),
  };
}

/**
 * The one room with a single talker: the first client of the first worker keeps
 * `profile.window` messages in flight (closed loop), the room's other clients listen. Beside
 * the many-talker regime of oneRoom, it shows what one busy sender gets out of the server.
 * No latency probe: the one room's trial already probes with one sender at a fixed rate.
 */
export function oneTalker(groups: readonly WorkerGroup[], profile: Profile): Talkers {
  const clients = groups.reduce((sum, group) => sum + group.count, 0);
  return {
    rooms: 1,
    latency: null,
    fanout: (i) => (i === 0 ? [0] : []),
    window: profile.window,
    audience: clients,
    notices: joinNotices(clients),
  };
}

/** The latency of a trial without a latency probe: no samples, nothing sent, nothing measured. */
export const NO_LATENCY: RoomResult['latency'] = {
  samples: 0,
  p50Ms: Number.NaN,
  p99Ms: Number.NaN,
  maxMs: Number.NaN,
  delivered: 0,
  expected: 0,
  serverCpu: null,
  clientCpu: null,
};

/** Lead time so that every worker has its orders before the first phase begins. */
const START_LEAD_MS = 50;
/** After the window, so that every worker's own end-of-window timer has fired. */
const END_GRACE_MS = 50;

/**
 * One room, or many (see `talkers`), on a fresh server side: connect every client, let
 * the join notices settle, probe latency at a fixed rate, then run the closed fan-out
 * loop. Both steps wait until every message sent has reached every client of its room
 * (or nothing more arrives), and count it.
 */
export async function runRoomTrial(
  server: ServerSetup,
  groups: readonly WorkerGroup[],
  profile: Profile,
  talkers: Talkers = oneRoom(groups, profile),
): Promise<RoomResult> {
  const fleet = await Fleet.start(server, groups);
  try {
    const clients = fleet.clientCount;
    await fleet.connect(profile.connectConcurrency, profile.connectTimeoutMs);
    const expected = talkers.notices;
    const settled = await fleet.waitFor((t) => t.notices >= expected, profile.stallMs);
    assertNoErrors(settled, 'connecting');
    // One process announces each join to exactly the clients present. Across nodes two
    // joins can cross: each newcomer is registered on its node before the other's notice
    // arrives, and both see both. A join can never be missed by both sides, so a cluster
    // delivers at least the single-process count.
    const short = fleet.server.isCluster ? settled.notices < expected : settled.notices !== expected;
    if (short) throw new Error(`${server}: ${settled.notices} of ${expected} join notices arrived`);
    const latency = talkers.latency === null ? NO_LATENCY : await probeLatency(fleet, profile, talkers, talkers.latency);
    const fanout = await runFanout(fleet, profile, talkers);
    return { server, clients, latency, fanout };
  } finally {
    await fleet.stop();
  }
}

function phasesFrom(warmupMs: number, measureMs: number): Phases {
  return { startAt: Date.now() + START_LEAD_MS, warmupMs, measureMs };
}

/**
 * The open-loop probe: each of `senders` sends `profile.latencyRate` messages/s through a
 * warm-up and a window, every client records each message's latency in the window, and
 * every message must reach everyone in its room (`talkers.audience`).
 */
export async function probeLatency(
  fleet: Fleet,
  profile: Profile,
  talkers: Talkers,
  senders: (worker: number) => number[],
): Promise<RoomResult['latency']> {
  const phases = phasesFrom(profile.latencyWarmupMs, profile.latencyMeasureMs);
  await fleet.broadcast((i) => ({ cmd: 'latency', phases, rate: profile.latencyRate, senders: senders(i) }));
  const cpu = await watchWindow(fleet, phases);
  const { delivery } = await drain(fleet, profile, talkers, 'latency probe');
  const histograms = await fleet.broadcast<HistogramData>(() => ({ cmd: 'histogram' }));
  return { ...summarize(histograms), ...delivery, ...cpu };
}

async function runFanout(fleet: Fleet, profile: Profile, talkers: Talkers): Promise<RoomResult['fanout']> {
  const phases = phasesFrom(profile.fanoutWarmupMs, profile.fanoutMeasureMs);
  await fleet.broadcast((i) => ({ cmd: 'fanout', phases, senders: talkers.fanout(i), window: talkers.window }));
  const cpu = await watchWindow(fleet, phases);
  const { delivery, totals } = await drain(fleet, profile, talkers, 'fan-out');
  return { ...delivery, ...cpu, deliveriesPerSecond: totals.chatsInWindow / (phases.measureMs / 1000) };
}

/** Sleeps through the phases, reading how busy the server and the clients were in the window. */
async function watchWindow(fleet: Fleet, phases: Phases): Promise<CpuShares> {
  const windowStart = phases.startAt + phases.warmupMs;
  await sleep(windowStart - Date.now());
  const before = fleet.cpu();
  const wallBefore = Date.now();
  await sleep(windowStart + phases.measureMs - Date.now());
  const after = fleet.cpu();
  const seconds = (Date.now() - wallBefore) / 1000;
  await sleep(END_GRACE_MS);
  const share = (a: number | null, b: number | null) => (a === null || b === null ? null : (b - a) / seconds);
  return { serverCpu: share(before.server, after.server), clientCpu: share(before.clients, after.clients) };
}

/** Waits until every chat sent has reached every client of its room, or nothing more comes. */
async function drain(fleet: Fleet, profile: Profile, talkers: Talkers, step: string): Promise<{ delivery: Delivery; totals: Totals }> {
  const { audience } = talkers;
  const totals = await fleet.waitFor((t) => t.chats >= t.sent * audience, profile.stallMs);
  assertNoErrors(totals, step);
  const delivery: Delivery = { delivered: totals.chats, expected: totals.sent * audience };
  // Checked only where there is another room to stray into (client-worker.ts).
  if (talkers.rooms > 1) delivery.misrouted = totals.misrouted;
  return { delivery, totals };
}

export function assertNoErrors(totals: Totals, step: string): void {
  if (totals.errors > 0) {
    throw new Error(`${totals.errors} client errors while ${step}, e.g. ${totals.errorSamples.slice(0, 3).join('; ')}`);
  }
}
