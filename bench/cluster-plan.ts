import type { ServerSetup } from './ipc';
import { roomGroups, roomLine, type Timed } from './plan';
import { compare, cpuMeasure, fanoutMeasure, latencyMeasure, type Row } from './rows';
import type { Profile } from './profiles';
import { runRoomTrial, type RoomResult } from './room-trial';

/** Our server spread over several processes, as a user scales it out (docs/deploy.md, "Running several nodes"). */
export type ClusterSetup = Extract<ServerSetup, 'ours-redis-2' | 'ours-workers-2'>;
type RoomName = 'raw' | 'sio' | 'mixed';

const SETUPS: readonly ClusterSetup[] = ['ours-redis-2', 'ours-workers-2'];
const ROOMS: readonly RoomName[] = ['raw', 'sio', 'mixed'];
const SETUP_NAMES: Record<ClusterSetup, string> = {
  'ours-redis-2': '2 nodes on Redis',
  'ours-workers-2': 'WORKERS=2',
};

/** Each room's trials under one process and under each cluster setup, run by run. */
export type ClusterTrials = Record<RoomName, Record<'ours' | ClusterSetup, RoomResult[]>>;

/** Trials per repetition in runClusterPlan. */
export const CLUSTER_STEPS = ROOMS.length * (1 + SETUPS.length);

/**
 * The rooms of the single-process plan, on one process and on each cluster setup in
 * turn (A B C A B C ...), with the same clients and the same cores: the whole server side
 * (nodes, workers, redis-server) on core 0, the clients on core 1. Each room's two client
 * workers go to different nodes, so every message crosses between them; in the mixed
 * room that puts the raw clients on one node and the Socket.IO clients on the other.
 */
export async function runClusterPlan(profile: Profile, timed: Timed): Promise<ClusterTrials> {
  const groups = roomGroups(profile);
  const trials = {} as ClusterTrials;
  for (const room of ROOMS) {
    const bySetup: Record<'ours' | ClusterSetup, RoomResult[]> = { ours: [], 'ours-redis-2': [], 'ours-workers-2': [] };
    for (let r = 1; r <= profile.repetitions; r += 1) {
      for (const setup of ['ours', ...SETUPS] as const) {
        const label = `${room} room, ${setup === 'ours' ? 'one process' : SETUP_NAMES[setup]}, run ${r}`;
        bySetup[setup].push(await timed(label, () => runRoomTrial(setup, groups[room], profile), roomLine));
      }
    }
    trials[room] = bySetup;
  }
  return trials;
}

/** Fan-out, server CPU per delivery and p99 latency of each room on each cluster setup, against the same room on one process. */
export function buildClusterRows(trials: ClusterTrials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const half = Math.floor(room / 2);
  const rooms: Record<RoomName, string> = {
    raw: `Raw fan-out, ${room} clients`,
    sio: `Socket.IO fan-out, ${room} clients`,
    mixed: `Mixed room fan-out, ${room - half} raw on one node + ${half} Socket.IO on the other`,
  };
  const cpuRooms: Record<RoomName, string> = {
    raw: `Raw server CPU per delivery, ${room} clients`,
    sio: `Socket.IO server CPU per delivery, ${room} clients`,
    mixed: `Mixed room server CPU per delivery, ${room - half} raw + ${half} Socket.IO`,
  };
  const latencyRooms: Record<RoomName, string> = {
    raw: `Raw latency p99, ${profile.latencyRate} msg/s to ${room}`,
    sio: `Socket.IO latency p99, ${profile.latencyRate} msg/s to ${room}`,
    mixed: `Mixed room latency p99, ${profile.latencyRate} msg/s to ${room}`,
  };
  const rows: Row[] = [];
  for (const name of ROOMS) {
    for (const setup of SETUPS) {
      const fanout = fanoutMeasure(`${setup}-${name}-fanout`, `${rooms[name]}, ${SETUP_NAMES[setup]}`);
      // All the server side's processes added up (nodes, workers, redis-server), on its one core.
      const cpu = cpuMeasure(`${setup}-${name}-cpu`, `${cpuRooms[name]}, ${SETUP_NAMES[setup]}`);
      const p99 = latencyMeasure(`${setup}-${name}-latency-p99`, `${latencyRooms[name]}, ${SETUP_NAMES[setup]}`, 'p99');
      const results = trials[name];
      for (const measure of [fanout, cpu, p99]) rows.push(compare(measure, 'ours, one process', results[setup], results.ours));
    }
  }
  return rows;
}
