import { roomGroups, roomLine, type Timed } from './plan';
import { compare, cpuMeasure, fanoutMeasure, latencyMeasure, type Measure, type Row } from './rows';
import type { Profile } from './profiles';
import { runRoomTrial, type RoomResult } from './room-trial';

/**
 * The durable store on and off: our server with its default store (SQLite, in a fresh
 * temporary DATA_DIR: server-side.ts) against the same server with DATA_DIR=:memory:
 * (history in memory only, the store before SQLite), in the single rooms of the
 * single-process plan. What one SQLite transaction per event-loop turn costs the fan-out.
 */
type RoomName = 'raw' | 'sio' | 'mixed';
const ROOMS: readonly RoomName[] = ['raw', 'sio', 'mixed'];

export type StoreTrials = Record<RoomName, { on: RoomResult[]; off: RoomResult[] }>;

/** The fan-out with the store on is held to this share of the fan-out with it off. */
const STORE_TARGET = 0.9;

/** Trials in runStorePlan. */
export function storeSteps(profile: Profile): number {
  return ROOMS.length * 2 * profile.storeRepetitions;
}

/**
 * Each room with the store on, then off, `profile.storeRepetitions` times (on off on
 * off ...), so a drift in the machine's load touches both alike; every trial starts
 * fresh processes (and, with the store on, an empty database).
 */
export async function runStorePlan(profile: Profile, timed: Timed): Promise<StoreTrials> {
  const groups = roomGroups(profile);
  const names: Record<RoomName, string> = { raw: 'raw room', sio: 'Socket.IO room', mixed: 'mixed room' };
  const trials = {} as StoreTrials;
  for (const room of ROOMS) {
    const pair = { on: [] as RoomResult[], off: [] as RoomResult[] };
    for (let r = 1; r <= profile.storeRepetitions; r += 1) {
      pair.on.push(await timed(`${names[room]}, store on (SQLite), run ${r}`, () => runRoomTrial('ours', groups[room], profile), roomLine));
      pair.off.push(
        await timed(`${names[room]}, store off (DATA_DIR=:memory:), run ${r}`, () => runRoomTrial('ours-memory', groups[room], profile), roomLine),
      );
    }
    trials[room] = pair;
  }
  return trials;
}

/**
 * Per room: fan-out (held to STORE_TARGET), the server's CPU per delivery in that
 * fan-out, and latency p99 at the probe's fixed rate, store on against store off, pair
 * by pair.
 */
export function buildStoreRows(trials: StoreTrials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const half = Math.floor(room / 2);
  const shapes: Record<RoomName, { prefix: string; fanout: string; latency: string }> = {
    raw: { prefix: 'Raw', fanout: `Raw fan-out, ${room} clients`, latency: `Raw latency p99, ${profile.latencyRate} msg/s to ${room}` },
    sio: {
      prefix: 'Socket.IO',
      fanout: `Socket.IO fan-out, ${room} clients`,
      latency: `Socket.IO latency p99, ${profile.latencyRate} msg/s to ${room}`,
    },
    mixed: {
      prefix: 'Mixed room',
      fanout: `Mixed room fan-out, ${room - half} raw + ${half} Socket.IO`,
      latency: `Mixed room latency p99, ${profile.latencyRate} msg/s to ${room}`,
    },
  };
  const on = 'store on (SQLite)';
  const against = 'ours, store off (DATA_DIR=:memory:)';
  const rows: Row[] = [];
  for (const name of ROOMS) {
    const shape = shapes[name];
    const measures: Measure<RoomResult>[] = [
      fanoutMeasure(`store-${name}-fanout`, `${shape.fanout}, ${on}`, { ratio: STORE_TARGET }),
      cpuMeasure(`store-${name}-cpu`, `${shape.prefix} server CPU per delivery in that fan-out, ${on}`),
      latencyMeasure(`store-${name}-latency-p99`, `${shape.latency}, ${on}`, 'p99'),
    ];
    for (const measure of measures) rows.push(compare(measure, against, trials[name].on, trials[name].off));
  }
  return rows;
}
