import type { ClientKind, ServerSetup } from './ipc';
import { manyRoomGroups, manyRoomTalkers } from './many-rooms';
import { alternatePairs, type Pair, type Timed } from './plan';
import type { Profile } from './profiles';
import { runRoomTrial, type RoomResult } from './room-trial';
import { compare, cpuMeasure, fanoutMeasure, latencyDelivery, latencyMeasure, type Measure, type Row } from './rows';
import { median } from './stats';

/**
 * The realistic workload (issue #25): `profile.manyRooms` small rooms, one talker each,
 * ours with its default store (SQLite) against a bare server with rooms written plainly
 * (bench/baselines/ws-rooms.ts, socketio-rooms.ts), alternated, each trial on fresh
 * processes. A trial runs both regimes on the same clients, as runRoomTrial's two steps:
 * - a fixed human rate (its latency probe): each talker sends HUMAN_RATE messages/s, for
 *   the server's share of its core, latency, and every delivery counted;
 * - saturated (its closed fan-out loop): each talker keeps IN_FLIGHT messages in flight,
 *   for deliveries/s and the server's CPU per delivery.
 */
export type WorkloadTrials = Record<ClientKind, Pair<RoomResult>>;

/** Messages per second from each room's talker: a lively human chat. */
const HUMAN_RATE = 10;
/** Messages each talker keeps in flight when saturated. */
const IN_FLIGHT = 2;

/** The targets, as ratios ours / bare. */
const CPU_TARGET = 1;
const P99_TARGET = 1.5;
const DELIVERIES_TARGET = 1.5;

const KINDS: readonly ClientKind[] = ['raw', 'sio'];
const SIDES: Record<ClientKind, { name: string; bare: ServerSetup; against: string }> = {
  raw: { name: 'Raw', bare: 'ws-rooms', against: 'bare ws, a Map of rooms' },
  sio: { name: 'Socket.IO', bare: 'socketio-rooms', against: 'bare socket.io, rooms' },
};

/** Trials in runWorkloadPlan. */
export function workloadSteps(profile: Profile): number {
  return KINDS.length * 2 * profile.repetitions;
}

/** The profile as runRoomTrial reads it here: its probe at the human rate, over the human-rate window. */
function humanPaced(profile: Profile): Profile {
  return { ...profile, latencyRate: HUMAN_RATE, latencyWarmupMs: profile.humanRateWarmupMs, latencyMeasureMs: profile.humanRateMeasureMs };
}

const percent = (share: number | null) => (share === null || !Number.isFinite(share) ? 'n/a' : `${(share * 100).toFixed(0)}%`);

const workloadLine = (r: RoomResult) =>
  `at ${HUMAN_RATE} msg/s a room: server ${percent(r.latency.serverCpu)} of a core, p50 ${r.latency.p50Ms.toFixed(2)} ms, ` +
  `p99 ${r.latency.p99Ms.toFixed(2)} ms; saturated: ${Math.round(r.fanout.deliveriesPerSecond)} deliveries/s, ` +
  `server ${percent(r.fanout.serverCpu)}, clients ${percent(r.fanout.clientCpu)}`;

/** Each kind, ours then its bare server, `profile.repetitions` times (A B A B ...). */
export async function runWorkloadPlan(profile: Profile, timed: Timed): Promise<WorkloadTrials> {
  const paced = humanPaced(profile);
  const talkers = manyRoomTalkers(profile, IN_FLIGHT);
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const trials = {} as WorkloadTrials;
  for (const kind of KINDS) {
    const groups = manyRoomGroups(kind, profile);
    const { name, bare } = SIDES[kind];
    const run = (server: ServerSetup) => runRoomTrial(server, groups, paced, talkers);
    trials[kind] = await alternatePairs(profile, timed, `${name}, ${rooms} rooms x ${clientsPerRoom}`, bare, run, workloadLine);
  }
  return trials;
}

/** The server's share of its core in the fixed-rate window (NaN where /proc cannot be read). */
function humanRateCpuMeasure(id: string, label: string): Measure<RoomResult> {
  return {
    id,
    label,
    unit: 'core',
    better: 'lower',
    target: { ratio: CPU_TARGET },
    value: (r) => r.latency.serverCpu ?? Number.NaN,
    delivery: latencyDelivery,
  };
}

/** Per kind: the fixed rate's server CPU, p50 and p99; the saturated deliveries/s and CPU per delivery; ours against bare, pair by pair. */
export function buildWorkloadRows(trials: WorkloadTrials, profile: Profile): Row[] {
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const paced = `${HUMAN_RATE} msg/s in each of ${rooms} rooms x ${clientsPerRoom} (${HUMAN_RATE * rooms} msg/s)`;
  const saturated = `${rooms} rooms x ${clientsPerRoom}, a talker each keeping ${IN_FLIGHT} in flight`;
  const rows: Row[] = [];
  for (const kind of KINDS) {
    const { name, against } = SIDES[kind];
    const measures: Measure<RoomResult>[] = [
      humanRateCpuMeasure(`${kind}-rooms-rate-cpu`, `${name} server CPU, ${paced}`),
      latencyMeasure(`${kind}-rooms-rate-p50`, `${name} latency p50, ${paced}`, 'p50'),
      latencyMeasure(`${kind}-rooms-rate-p99`, `${name} latency p99, ${paced}`, 'p99', { ratio: P99_TARGET }),
      fanoutMeasure(`${kind}-rooms-saturated-fanout`, `${name} fan-out, ${saturated}`, { ratio: DELIVERIES_TARGET }),
      cpuMeasure(`${kind}-rooms-saturated-cpu`, `${name} server CPU per delivery, ${saturated}`),
    ];
    for (const m of measures) rows.push(compare(m, against, trials[kind].ours, trials[kind].baseline));
  }
  return rows;
}

/**
 * Under the table: how the rooms were driven, and how busy the clients' core was in the
 * saturated windows (near all of it, the clients and not the server set that pace).
 */
export function workloadNote(trials: WorkloadTrials, profile: Profile): string {
  const clients = (results: readonly RoomResult[]) => percent(median(results.map((r) => r.fanout.clientCpu ?? Number.NaN)));
  const busy = KINDS.map((kind) => `${SIDES[kind].name} ${clients(trials[kind].ours)} with ours, ${clients(trials[kind].baseline)} with bare`);
  return (
    `Rooms (bench/workload-plan.ts): ${profile.manyRooms.rooms} rooms x ${profile.manyRooms.clientsPerRoom}, one talker per room; ` +
    `each trial runs ${HUMAN_RATE} msg/s per talker (${profile.humanRateWarmupMs / 1000} s warm-up, ${profile.humanRateMeasureMs / 1000} s measured), ` +
    `then ${IN_FLIGHT} in flight per talker (${profile.fanoutMeasureMs / 1000} s measured). ` +
    `The bare servers are bench/baselines/ws-rooms.ts and socketio-rooms.ts. The clients' core in the saturated windows (medians): ${busy.join('; ')}.`
  );
}
