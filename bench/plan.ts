import type { ServerName } from './ipc';
import type { Profile } from './profiles';
import type { WorkerGroup } from './fleet';
import { manyRoomGroups, manyRoomTalkers, type RoomKind } from './many-rooms';
import { runRoomTrial, type Delivery, type RoomResult } from './room-trial';
import { median } from './stats';
import { runStormTrial, type StormResult } from './storm-trial';

export type Better = 'higher' | 'lower';
export type Unit = 'deliveries/s' | 'ms' | 's' | 'bytes' | 'µs';

/** A target from the issue, as a bound on the median ratio ours / baseline. */
export interface Target {
  ratio: number;
}

/** One line of the results table: a measure, ours against its baseline, run by run. */
export interface Row {
  id: string;
  label: string;
  against: string;
  unit: Unit;
  better: Better;
  ours: number[];
  baseline: number[];
  /** ours / baseline, pair by pair (A B A B ...). */
  ratios: number[];
  medianOurs: number;
  medianBaseline: number;
  medianRatio: number;
  target: Target | null;
  met: boolean | null;
  /** Added up over every trial behind the row, ours and the baseline's. */
  delivery: Delivery;
  /** The worst single trial, so one short trial cannot hide in a large sum. */
  worstDelivery: number;
}

export interface Trials {
  rawRoom: { ours: RoomResult[]; baseline: RoomResult[] };
  sioRoom: { ours: RoomResult[]; baseline: RoomResult[] };
  mixedRoom: RoomResult[];
  /** The same clients in many small rooms, one talker each (many-rooms.ts), run beside the one room. */
  manyRooms: Record<RoomKind, RoomResult[]>;
  rawStorm: { ours: StormResult[]; baseline: StormResult[] };
  sioStorm: { ours: StormResult[]; baseline: StormResult[] };
}

const BASELINE_NAMES: Record<Exclude<ServerName, 'ours'>, string> = {
  'ws-loop': 'bare ws loop',
  'socketio-emit': 'bare socket.io',
};

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

export const roomLine = (r: RoomResult) =>
  `${Math.round(r.fanout.deliveriesPerSecond)} deliveries/s, p99 ${r.latency.p99Ms.toFixed(2)} ms`;

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
export const SINGLE_PROCESS_STEPS = 12;

/**
 * Runs every trial of the profile. Each comparison alternates ours and its baseline,
 * ours first, `repetitions` times (A B A B ...), so a drift in the machine's load
 * touches both sides alike; every trial starts fresh processes.
 */
export async function runPlan(profile: Profile, timed: Timed): Promise<Trials> {
  const groups = roomGroups(profile);
  const manyGroups = manyRoomGroups(profile);
  const talkers = manyRoomTalkers(profile);
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const manyRooms: Record<RoomKind, RoomResult[]> = { raw: [], sio: [], mixed: [] };
  // Right after the one room it is compared with, in the same repetition, so that a
  // drift in the machine's load touches both alike.
  const inManyRooms = async (kind: RoomKind, name: string, run: number) => {
    const label = `${name}, ${rooms} rooms x ${clientsPerRoom}, ours, run ${run}`;
    manyRooms[kind].push(await timed(label, () => runRoomTrial('ours', manyGroups[kind], profile, talkers), roomLine));
  };
  const stormLine = (r: StormResult) =>
    `storm ${r.stormSeconds.toFixed(2)} s, ${Math.round(r.rssPerConnection)} B/conn`;

  /** Ours, then its baseline, then anything run beside them (`also`), each repetition. */
  const alternate = async <T>(
    name: string,
    baseline: ServerName,
    run: (server: ServerName) => Promise<T>,
    describe: (result: T) => string,
    also: (run: number) => Promise<void> = async () => undefined,
  ) => {
    const pair = { ours: [] as T[], baseline: [] as T[] };
    for (let r = 1; r <= profile.repetitions; r += 1) {
      pair.ours.push(await timed(`${name}, ours, run ${r}`, () => run('ours'), describe));
      pair.baseline.push(await timed(`${name}, ${baseline}, run ${r}`, () => run(baseline), describe));
      await also(r);
    }
    return pair;
  };

  const rawRoom = await alternate('raw room', 'ws-loop', (s) => runRoomTrial(s, groups.raw, profile), roomLine, (r) =>
    inManyRooms('raw', 'raw', r),
  );
  const sioRoom = await alternate('Socket.IO room', 'socketio-emit', (s) => runRoomTrial(s, groups.sio, profile), roomLine, (r) =>
    inManyRooms('sio', 'Socket.IO', r),
  );
  const mixedRoom: RoomResult[] = [];
  for (let r = 1; r <= profile.repetitions; r += 1) {
    mixedRoom.push(await timed(`mixed room, ours, run ${r}`, () => runRoomTrial('ours', groups.mixed, profile), roomLine));
    await inManyRooms('mixed', 'mixed', r);
  }
  const rawStorm = await alternate('raw storm', 'ws-loop', (s) => runStormTrial(s, 'raw', profile.stormClients, profile), stormLine);
  const sioStorm = await alternate('Socket.IO storm', 'socketio-emit', (s) => runStormTrial(s, 'sio', profile.sioStormClients, profile), stormLine);
  return { rawRoom, sioRoom, mixedRoom, manyRooms, rawStorm, sioStorm };
}

export interface Measure<T> {
  id: string;
  label: string;
  unit: Unit;
  better: Better;
  target: Target | null;
  value: (result: T) => number;
  delivery: (result: T) => Delivery;
}

/** Ours against the baseline, run by run; the row's deliveries are those of `counted` (both sides by default). */
export function compare<T>(
  measure: Measure<T>,
  against: string,
  ours: readonly T[],
  baseline: readonly T[],
  counted: readonly T[] = [...ours, ...baseline],
): Row {
  const oursValues = ours.map(measure.value);
  const baselineValues = baseline.map(measure.value);
  const ratios = oursValues.map((value, i) => value / (baselineValues[i] as number));
  return finish(measure, against, oursValues, baselineValues, ratios, counted.map(measure.delivery));
}

function finish<T>(
  measure: Measure<T>,
  against: string,
  ours: number[],
  baseline: number[],
  ratios: number[],
  deliveries: Delivery[],
): Row {
  const medianRatio = median(ratios);
  const { target } = measure;
  const met = target === null ? null : measure.better === 'higher' ? medianRatio >= target.ratio : medianRatio <= target.ratio;
  const delivery: Delivery = deliveries.reduce(
    (sum, d) => ({ delivered: sum.delivered + d.delivered, expected: sum.expected + d.expected }),
    { delivered: 0, expected: 0 },
  );
  // Only where the trials checked it (several rooms): elsewhere there is no other room.
  const checked = deliveries.filter((d) => d.misrouted !== undefined);
  if (checked.length > 0) delivery.misrouted = checked.reduce((sum, d) => sum + (d.misrouted as number), 0);
  const worstDelivery = Math.min(...deliveries.map((d) => (d.expected === 0 ? 1 : d.delivered / d.expected)));
  return {
    id: measure.id,
    label: measure.label,
    against,
    unit: measure.unit,
    better: measure.better,
    ours,
    baseline,
    ratios,
    medianOurs: median(ours),
    medianBaseline: median(baseline),
    medianRatio,
    target,
    met,
    delivery,
    worstDelivery,
  };
}

export const fanoutDelivery = (r: RoomResult) => r.fanout;
export const latencyDelivery = (r: RoomResult) => r.latency;
const stormDelivery = (r: StormResult) => r.notices;

/** The rows of the results table, with the targets. */
export function buildRows(trials: Trials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const rate = profile.latencyRate;
  const roomMeasures = (prefix: string, name: string, fanoutTarget: number): Measure<RoomResult>[] => [
    {
      id: `${prefix}-fanout`,
      label: `${name} fan-out, ${room} clients`,
      unit: 'deliveries/s',
      better: 'higher',
      target: { ratio: fanoutTarget },
      value: (r) => r.fanout.deliveriesPerSecond,
      delivery: fanoutDelivery,
    },
    ...(['p50', 'p99', 'max'] as const).map(
      (q): Measure<RoomResult> => ({
        id: `${prefix}-latency-${q}`,
        label: `${name} latency ${q}, ${rate} msg/s to ${room}`,
        unit: 'ms',
        better: 'lower',
        target: q === 'p99' ? { ratio: 1 } : null,
        value: (r) => r.latency[`${q}Ms`],
        delivery: latencyDelivery,
      }),
    ),
  ];
  const stormMeasures = (prefix: string, name: string, storm: number, stormTarget: Target | null): Measure<StormResult>[] => [
    {
      id: `${prefix}-storm`,
      label: `${name} join storm, ${storm} clients`,
      unit: 's',
      better: 'lower',
      target: stormTarget,
      value: (r) => r.stormSeconds,
      delivery: stormDelivery,
    },
    {
      id: `${prefix}-memory`,
      label: `${name} idle memory per connection (RSS), ${storm} clients`,
      unit: 'bytes',
      better: 'lower',
      target: { ratio: 1.1 },
      value: (r) => r.rssPerConnection,
      delivery: stormDelivery,
    },
    {
      // What the JavaScript side holds (heap and Buffers): steadier than RSS, which also
      // keeps whatever the storm's garbage left the allocator holding.
      id: `${prefix}-heap`,
      label: `${name} idle heap + external per connection, ${storm} clients`,
      unit: 'bytes',
      better: 'lower',
      target: null,
      value: (r) => r.heapPerConnection,
      delivery: stormDelivery,
    },
  ];

  const rows: Row[] = [];
  const raw = BASELINE_NAMES['ws-loop'];
  const sio = BASELINE_NAMES['socketio-emit'];
  for (const m of roomMeasures('raw', 'Raw', 6)) rows.push(compare(m, raw, trials.rawRoom.ours, trials.rawRoom.baseline));
  for (const m of roomMeasures('sio', 'Socket.IO', 2.5)) rows.push(compare(m, sio, trials.sioRoom.ours, trials.sioRoom.baseline));

  // The mixed room has no bare counterpart: it is held to the slower of our two pure rooms.
  const rawFanout = rows.find((row) => row.id === 'raw-fanout') as Row;
  const sioFanout = rows.find((row) => row.id === 'sio-fanout') as Row;
  const slower = rawFanout.medianOurs <= sioFanout.medianOurs ? rawFanout : sioFanout;
  const mixed = trials.mixedRoom.map((r) => r.fanout.deliveriesPerSecond);
  const mixedMeasure: Measure<RoomResult> = {
    id: 'mixed-fanout',
    label: `Mixed room fan-out, ${room - Math.floor(room / 2)} raw + ${Math.floor(room / 2)} Socket.IO`,
    unit: 'deliveries/s',
    better: 'higher',
    target: { ratio: 1 },
    value: (r) => r.fanout.deliveriesPerSecond,
    delivery: fanoutDelivery,
  };
  rows.push(
    finish(
      mixedMeasure,
      `ours, ${slower === rawFanout ? 'raw' : 'Socket.IO'} room (the slower)`,
      mixed,
      [slower.medianOurs],
      mixed.map((value) => value / slower.medianOurs),
      trials.mixedRoom.map(fanoutDelivery),
    ),
  );

  rows.push(...manyRoomRows(trials, profile));

  for (const m of stormMeasures('raw', 'Raw', profile.stormClients, { ratio: 0.15 })) rows.push(compare(m, raw, trials.rawStorm.ours, trials.rawStorm.baseline));
  for (const m of stormMeasures('sio', 'Socket.IO', profile.sioStormClients, null)) rows.push(compare(m, sio, trials.sioStorm.ours, trials.sioStorm.baseline));
  return rows;
}

/**
 * The many rooms, kind by kind: fan-out, latency p50 and p99. No baseline has rooms, so
 * each is compared with our one room of as many clients and the same kinds, run in the
 * same repetitions, pair by pair: a ratio to read (what splitting the clients into rooms
 * costs or gains), with no target. The labels say so.
 */
function manyRoomRows(trials: Trials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const half = Math.floor(clientsPerRoom / 2);
  const kinds: { kind: RoomKind; prefix: string; name: string; shape: string; oneRoom: RoomResult[]; against: string }[] = [
    { kind: 'raw', prefix: 'raw', name: 'Raw', shape: `${clientsPerRoom}`, oneRoom: trials.rawRoom.ours, against: 'room' },
    { kind: 'sio', prefix: 'sio', name: 'Socket.IO', shape: `${clientsPerRoom}`, oneRoom: trials.sioRoom.ours, against: 'room' },
    {
      kind: 'mixed',
      prefix: 'mixed',
      name: 'Mixed',
      shape: `(${clientsPerRoom - half} raw + ${half} Socket.IO)`,
      oneRoom: trials.mixedRoom,
      against: 'mixed room',
    },
  ];
  const rows: Row[] = [];
  for (const { kind, prefix, name, shape, oneRoom, against } of kinds) {
    const versus = `(vs our one ${against} of ${room})`;
    const measures: Measure<RoomResult>[] = [
      {
        id: `${prefix}-rooms-fanout`,
        label: `${name} fan-out, ${rooms} rooms x ${shape}, a talker each ${versus}`,
        unit: 'deliveries/s',
        better: 'higher',
        target: null,
        value: (r) => r.fanout.deliveriesPerSecond,
        delivery: fanoutDelivery,
      },
      ...(['p50', 'p99'] as const).map(
        (q): Measure<RoomResult> => ({
          id: `${prefix}-rooms-latency-${q}`,
          label: `${name} latency ${q}, ${profile.latencyRate} msg/s in each of ${rooms} rooms x ${shape} ${versus}`,
          unit: 'ms',
          better: 'lower',
          target: null,
          value: (r) => r.latency[`${q}Ms`],
          delivery: latencyDelivery,
        }),
      ),
    ];
    // Only the many rooms' deliveries belong to these rows: the one room has rows of its own.
    const many = trials.manyRooms[kind];
    for (const m of measures) rows.push(compare(m, `ours, one ${against} of ${room}`, many, oneRoom, many));
  }
  return rows;
}
