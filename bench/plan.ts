import type { WorkerGroup } from './fleet';
import type { ServerSetup } from './ipc';
import type { Profile } from './profiles';
import { oneTalker, runRoomTrial, type RoomResult } from './room-trial';
import { runStormTrial, type StormResult } from './storm-trial';

/** Ours against one other setup, run by run (A B A B ...). */
export interface Pair<T> {
  ours: T[];
  baseline: T[];
}

export interface Trials {
  /** The one room, `profile.senders` talkers each keeping `profile.window` messages in flight. */
  rawRoom: Pair<RoomResult>;
  sioRoom: Pair<RoomResult>;
  mixedRoom: RoomResult[];
  /** The one room with a single talker keeping `profile.window` messages in flight (oneTalker). */
  rawOneTalker: Pair<RoomResult>;
  sioOneTalker: Pair<RoomResult>;
  /** Ours with the Socket.IO fast path on (`ours`) against off (`ours-plain-sio`), both regimes. */
  fastPath: { room: Pair<RoomResult>; oneTalker: Pair<RoomResult> };
  rawStorm: Pair<StormResult>;
  sioStorm: Pair<StormResult>;
}

type Log = (line: string) => void;

/** Runs one trial, and logs its result with its place among all the run's trials. */
export type Timed = <T>(label: string, run: () => Promise<T>, describe: (result: T) => string) => Promise<T>;

export function stepCounter(total: number, log: Log): Timed {
  let step = 0;
  return async (label, run, describe) => {
    step += 1;
    const started = Date.now();
    const result = await run();
    log(`[${step}/${total}] ${label}: ${describe(result)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  };
}

export const roomLine = (r: RoomResult) => {
  const latency = r.latency.samples > 0 ? `, p99 ${r.latency.p99Ms.toFixed(2)} ms` : '';
  const cpu = r.fanout.serverCpu === null ? '' : `, server ${(r.fanout.serverCpu * 100).toFixed(0)}% of a core`;
  return `${Math.round(r.fanout.deliveriesPerSecond)} deliveries/s${cpu}${latency}`;
};

const stormLine = (r: StormResult) =>
  `storm ${r.stormSeconds.toFixed(2)} s, ${r.probes.sent} probes p99 ${r.probes.latency.p99Ms.toFixed(1)} ms, ${Math.round(r.rssPerConnection)} B/conn`;

/** The three rooms, each client kind split over two workers (two nodes, where there are two). */
export function roomGroups(profile: Profile): Record<'raw' | 'sio' | 'mixed', WorkerGroup[]> {
  const room = profile.roomClients;
  const half = Math.floor(room / 2);
  return {
    raw: [
      { kind: 'raw', count: room - half },
      { kind: 'raw', count: half },
    ],
    sio: [
      { kind: 'sio', count: room - half },
      { kind: 'sio', count: half },
    ],
    mixed: [
      { kind: 'raw', count: room - half },
      { kind: 'sio', count: half },
    ],
  };
}

/** Trials per repetition in runPlan. */
export const SINGLE_PROCESS_STEPS = 17;

/**
 * Runs every trial of the profile. Each comparison alternates ours and its baseline,
 * ours first, `repetitions` times (A B A B ...), so a drift in the machine's load
 * touches both sides alike; every trial starts fresh processes.
 */
export async function runPlan(profile: Profile, timed: Timed): Promise<Trials> {
  const groups = roomGroups(profile);
  const alternate = <T>(name: string, baseline: ServerSetup, run: (server: ServerSetup) => Promise<T>, describe: (result: T) => string) =>
    alternatePairs(profile, timed, name, baseline, run, describe);

  const rawRoom = await alternate('raw room', 'ws-loop', (s) => runRoomTrial(s, groups.raw, profile), roomLine);
  const sioRoom = await alternate('Socket.IO room', 'socketio-emit', (s) => runRoomTrial(s, groups.sio, profile), roomLine);
  const mixedRoom: RoomResult[] = [];
  for (let r = 1; r <= profile.repetitions; r += 1) {
    mixedRoom.push(await timed(`mixed room, ours, run ${r}`, () => runRoomTrial('ours', groups.mixed, profile), roomLine));
  }
  const one = (kind: 'raw' | 'sio') => (s: ServerSetup) => runRoomTrial(s, groups[kind], profile, oneTalker(groups[kind], profile));
  const rawOneTalker = await alternate('raw room, one talker', 'ws-loop', one('raw'), roomLine);
  const sioOneTalker = await alternate('Socket.IO room, one talker', 'socketio-emit', one('sio'), roomLine);
  const fastPath = {
    room: await alternate('Socket.IO room, fast path on vs off', 'ours-plain-sio', (s) => runRoomTrial(s, groups.sio, profile), roomLine),
    oneTalker: await alternate('Socket.IO room, one talker, fast path on vs off', 'ours-plain-sio', one('sio'), roomLine),
  };
  const rawStorm = await alternate('raw storm', 'ws-loop', (s) => runStormTrial(s, 'raw', profile.stormClients, profile), stormLine);
  const sioStorm = await alternate('Socket.IO storm', 'socketio-emit', (s) => runStormTrial(s, 'sio', profile.sioStormClients, profile), stormLine);
  return { rawRoom, sioRoom, mixedRoom, rawOneTalker, sioOneTalker, fastPath, rawStorm, sioStorm };
}

/** Ours, then its baseline, `profile.repetitions` times (A B A B ...). */
export async function alternatePairs<T>(
  profile: Profile,
  timed: Timed,
  name: string,
  baseline: ServerSetup,
  run: (server: ServerSetup) => Promise<T>,
  describe: (result: T) => string,
): Promise<Pair<T>> {
  const pair: Pair<T> = { ours: [], baseline: [] };
  for (let r = 1; r <= profile.repetitions; r += 1) {
    pair.ours.push(await timed(`${name}, ours, run ${r}`, () => run('ours'), describe));
    pair.baseline.push(await timed(`${name}, ${baseline}, run ${r}`, () => run(baseline), describe));
  }
  return pair;
}
