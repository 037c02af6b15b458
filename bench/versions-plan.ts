import { execFileSync } from 'node:child_process';
import type { Pair, Timed } from './plan';
import { roomGroups, roomLine } from './plan';
import type { Profile } from './profiles';
import { oneTalker, runRoomTrial, type RoomResult } from './room-trial';
import { compare, cpuMeasure, fanoutMeasure, latencyMeasure, type Measure, type Row } from './rows';
import { stormMeasures } from './single-rows';
import { runStormTrial, type StormResult } from './storm-trial';

/**
 * This checkout's server against another checkout's (`--only versions --against DIR`):
 * each runs its own server code, driven by this checkout's clients, in the single-process
 * trials that a change to the server can move, alternated (this, the other, this, ...).
 * A change that should not cost speed or memory is held to no row more than 10% worse.
 */
export interface VersionTrials {
  rooms: Record<RoomTrial, Pair<RoomResult>>;
  storms: Record<'raw' | 'sio', Pair<StormResult>>;
}

type RoomTrial = 'raw' | 'sio' | 'mixed' | 'rawOne' | 'sioOne';
const ROOM_TRIALS: readonly RoomTrial[] = ['raw', 'sio', 'mixed', 'rawOne', 'sioOne'];

/** No row more than this much worse than the other checkout's. */
const WORSE_BY_AT_MOST = 0.1;

/** Trials in runVersionsPlan. */
export function versionsSteps(profile: Profile): number {
  return (ROOM_TRIALS.length + 2) * 2 * profile.repetitions;
}

/** How the other checkout is named in the rows: its path and commit. */
export function describeCheckout(root: string): string {
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    return `ours at ${root} (${commit})`;
  } catch {
    return `ours at ${root}`;
  }
}

export async function runVersionsPlan(profile: Profile, timed: Timed): Promise<VersionTrials> {
  const groups = roomGroups(profile);
  const room = (trial: RoomTrial) => {
    const kind = trial === 'rawOne' ? 'raw' : trial === 'sioOne' ? 'sio' : trial;
    return (setup: 'ours' | 'ours-other') =>
      runRoomTrial(setup, groups[kind], profile, ...(trial === 'rawOne' || trial === 'sioOne' ? [oneTalker(groups[kind], profile)] : []));
  };
  const names: Record<RoomTrial, string> = {
    raw: 'raw room',
    sio: 'Socket.IO room',
    mixed: 'mixed room',
    rawOne: 'raw room, one talker',
    sioOne: 'Socket.IO room, one talker',
  };
  const rooms = {} as VersionTrials['rooms'];
  for (const trial of ROOM_TRIALS) rooms[trial] = { ours: [], baseline: [] };
  const storms: VersionTrials['storms'] = { raw: { ours: [], baseline: [] }, sio: { ours: [], baseline: [] } };
  const stormLine = (r: StormResult) => `storm ${r.stormSeconds.toFixed(2)} s, ${Math.round(r.heapPerConnection)} B heap/conn`;
  for (let r = 1; r <= profile.repetitions; r += 1) {
    for (const trial of ROOM_TRIALS) {
      const run = room(trial);
      rooms[trial].ours.push(await timed(`${names[trial]}, this checkout, run ${r}`, () => run('ours'), roomLine));
      rooms[trial].baseline.push(await timed(`${names[trial]}, the other checkout, run ${r}`, () => run('ours-other'), roomLine));
    }
    for (const kind of ['raw', 'sio'] as const) {
      const clients = kind === 'raw' ? profile.stormClients : profile.sioStormClients;
      const storm = (setup: 'ours' | 'ours-other') => runStormTrial(setup, kind, clients, profile);
      storms[kind].ours.push(await timed(`${kind} storm, this checkout, run ${r}`, () => storm('ours'), stormLine));
      storms[kind].baseline.push(await timed(`${kind} storm, the other checkout, run ${r}`, () => storm('ours-other'), stormLine));
    }
  }
  return { rooms, storms };
}

/** Each trial's rows, this checkout against the other, each held to WORSE_BY_AT_MOST. */
export function buildVersionsRows(trials: VersionTrials, profile: Profile, against: string): Row[] {
  const room = profile.roomClients;
  const half = Math.floor(room / 2);
  const labels: Record<RoomTrial, string> = {
    raw: `Raw room of ${room}, ${profile.senders} talkers`,
    sio: `Socket.IO room of ${room}, ${profile.senders} talkers`,
    mixed: `Mixed room of ${room - half} raw + ${half} Socket.IO, ${profile.senders} talkers`,
    rawOne: `Raw room of ${room}, one talker (window ${profile.window})`,
    sioOne: `Socket.IO room of ${room}, one talker (window ${profile.window})`,
  };
  const rows: Row[] = [];
  for (const trial of ROOM_TRIALS) {
    const measures: Measure<RoomResult>[] = [
      fanoutMeasure(`versions-${trial}-fanout`, `${labels[trial]}: fan-out`, { ratio: 1 - WORSE_BY_AT_MOST }),
      cpuMeasure(`versions-${trial}-cpu`, `${labels[trial]}: server CPU per delivery`, { ratio: 1 + WORSE_BY_AT_MOST }),
    ];
    if (trial === 'raw' || trial === 'sio' || trial === 'mixed') {
      measures.push(latencyMeasure(`versions-${trial}-latency-p99`, `${labels[trial]}: latency p99 at ${profile.latencyRate} msg/s`, 'p99'));
    }
    for (const measure of measures) rows.push(compare(measure, against, trials.rooms[trial].ours, trials.rooms[trial].baseline));
  }
  const storm = { ratio: 1 + WORSE_BY_AT_MOST };
  for (const m of stormMeasures('versions-raw', 'Raw', profile.stormClients, storm)) rows.push(compare(m, against, trials.storms.raw.ours, trials.storms.raw.baseline));
  for (const m of stormMeasures('versions-sio', 'Socket.IO', profile.sioStormClients, storm)) rows.push(compare(m, against, trials.storms.sio.ours, trials.storms.sio.baseline));
  return rows;
}
