import type { Profile } from './profiles';
import type { Trials } from './plan';
import { compare, cpuMeasure, fanoutDelivery, fanoutMeasure, finish, latencyMeasure, type Measure, type Row, type Target } from './rows';
import type { RoomResult } from './room-trial';
import { median } from './stats';
import type { StormResult } from './storm-trial';

const RAW_BASELINE = 'bare ws loop';
const SIO_BASELINE = 'bare socket.io';
const PLAIN_SIO = 'ours, SOCKETIO_FAST_PATH=off (every packet through engine.io)';

/** Socket.IO's CPU per delivery is held to this multiple of raw's, ours against ours. */
const SIO_CPU_OVER_RAW = 1.5;
/** An absolute bound on the storm probes' p99, ms. */
const PROBE_P99_LIMIT_MS = 500;

const stormDelivery = (r: StormResult) => r.notices;
const probeDelivery = (r: StormResult) => r.probes;

/** The rows of the single-process part (bench/plan.ts), with the targets. */
export function buildRows(trials: Trials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const talkers = `${profile.senders} talkers`;
  const one = `one talker (window ${profile.window})`;
  const rows: Row[] = [];

  // The one room, many talkers: fan-out, the server's CPU per delivery, latency.
  const roomMeasures = (prefix: string, name: string, fanoutTarget: number): Measure<RoomResult>[] => [
    fanoutMeasure(`${prefix}-fanout`, `${name} fan-out, ${room} clients`, { ratio: fanoutTarget }),
    cpuMeasure(`${prefix}-cpu`, `${name} server CPU per delivery, ${talkers}, ${room} clients`),
    ...(['p50', 'p99', 'max'] as const).map((q) =>
      latencyMeasure(`${prefix}-latency-${q}`, `${name} latency ${q}, ${profile.latencyRate} msg/s to ${room}`, q, q === 'p99' ? { ratio: 1 } : null),
    ),
  ];
  for (const m of roomMeasures('raw', 'Raw', 6)) rows.push(compare(m, RAW_BASELINE, trials.rawRoom.ours, trials.rawRoom.baseline));
  for (const m of roomMeasures('sio', 'Socket.IO', 2.5)) rows.push(compare(m, SIO_BASELINE, trials.sioRoom.ours, trials.sioRoom.baseline));
  rows.push(sioOverRaw('sio-vs-raw-cpu', `${talkers}, ${room} clients`, trials.sioRoom.ours, trials.rawRoom.ours));
  rows.push(...mixedRows(trials, profile));

  // The one room, one talker.
  const oneMeasures = (prefix: string, name: string, fanoutTarget: Target | null): Measure<RoomResult>[] => [
    fanoutMeasure(`${prefix}-one-fanout`, `${name} fan-out, ${one}, ${room} clients`, fanoutTarget),
    cpuMeasure(`${prefix}-one-cpu`, `${name} server CPU per delivery, ${one}, ${room} clients`),
  ];
  for (const m of oneMeasures('raw', 'Raw', null)) rows.push(compare(m, RAW_BASELINE, trials.rawOneTalker.ours, trials.rawOneTalker.baseline));
  for (const m of oneMeasures('sio', 'Socket.IO', { ratio: 5 })) {
    rows.push(compare(m, SIO_BASELINE, trials.sioOneTalker.ours, trials.sioOneTalker.baseline));
  }
  rows.push(sioOverRaw('sio-vs-raw-one-cpu', `${one}, ${room} clients`, trials.sioOneTalker.ours, trials.rawOneTalker.ours));

  // Our Socket.IO fast path against engine.io's own path, both regimes; no target.
  const fast = (prefix: string, regime: string, pair: Trials['fastPath']['room']) => {
    const on = 'fast path on (vs SOCKETIO_FAST_PATH=off)';
    rows.push(compare(fanoutMeasure(`${prefix}-fanout`, `Socket.IO fan-out, ${regime}, ${room} clients, ${on}`), PLAIN_SIO, pair.ours, pair.baseline));
    rows.push(compare(cpuMeasure(`${prefix}-cpu`, `Socket.IO server CPU per delivery, ${regime}, ${room} clients, ${on}`), PLAIN_SIO, pair.ours, pair.baseline));
  };
  fast('sio-fastpath', talkers, trials.fastPath.room);
  fast('sio-one-fastpath', one, trials.fastPath.oneTalker);

  for (const m of stormMeasures('raw', 'Raw', profile.stormClients, { ratio: 0.1 })) rows.push(compare(m, RAW_BASELINE, trials.rawStorm.ours, trials.rawStorm.baseline));
  for (const m of stormMeasures('sio', 'Socket.IO', profile.sioStormClients, { ratio: 0.25 })) {
    rows.push(compare(m, SIO_BASELINE, trials.sioStorm.ours, trials.sioStorm.baseline));
  }
  return rows;
}

/**
 * Our Socket.IO room's CPU per delivery against our raw room's, in the same regime and
 * the same repetitions, pair by pair: what speaking Socket.IO costs the server per
 * delivery. Only the Socket.IO trials' deliveries are counted here (raw's have rows of
 * their own).
 */
function sioOverRaw(id: string, regime: string, sio: readonly RoomResult[], raw: readonly RoomResult[]): Row {
  const m = cpuMeasure(id, `Socket.IO server CPU per delivery against raw's, ${regime} (ours vs ours)`, { ratio: SIO_CPU_OVER_RAW });
  return compare(m, 'ours, raw room', sio, raw, sio);
}

/**
 * The mixed room has no bare counterpart: its fan-out is held to the slower of our two
 * pure rooms' medians; its CPU per delivery is set beside that same room's, pair by pair.
 */
function mixedRows(trials: Trials, profile: Profile): Row[] {
  const room = profile.roomClients;
  const half = Math.floor(room / 2);
  const rawFanout = median(trials.rawRoom.ours.map((r) => r.fanout.deliveriesPerSecond));
  const sioFanout = median(trials.sioRoom.ours.map((r) => r.fanout.deliveriesPerSecond));
  const rawSlower = rawFanout <= sioFanout;
  const slower = rawSlower ? rawFanout : sioFanout;
  const slowerName = rawSlower ? 'raw' : 'Socket.IO';
  const mixed = trials.mixedRoom.map((r) => r.fanout.deliveriesPerSecond);
  const shape = `${room - half} raw + ${half} Socket.IO`;
  return [
    finish(
      fanoutMeasure('mixed-fanout', `Mixed room fan-out, ${shape}`, { ratio: 1 }),
      `ours, ${slowerName} room (the slower)`,
      mixed,
      [slower],
      mixed.map((value) => value / slower),
      trials.mixedRoom.map(fanoutDelivery),
    ),
    compare(
      cpuMeasure('mixed-cpu', `Mixed room server CPU per delivery, ${profile.senders} talkers, ${shape}`),
      `ours, ${slowerName} room (the slower)`,
      trials.mixedRoom,
      rawSlower ? trials.rawRoom.ours : trials.sioRoom.ours,
      trials.mixedRoom,
    ),
  ];
}

/**
 * A join storm: its time (notices counted), the probes sent through it (latency, each
 * probe counted against every client that was in the room when it left), and the idle
 * memory after it.
 */
export function stormMeasures(prefix: string, name: string, storm: number, stormTarget: Target): Measure<StormResult>[] {
  return [
    {
      id: `${prefix}-storm`,
      label: `${name} join storm, ${storm} clients`,
      unit: 's',
      better: 'lower',
      target: stormTarget,
      value: (r) => r.stormSeconds,
      delivery: stormDelivery,
    },
    ...(['p50', 'p99', 'max'] as const).map(
      (q): Measure<StormResult> => ({
        id: `${prefix}-storm-probe-${q}`,
        label: `${name} probe latency ${q} during that storm (a chat every 100 ms from a client there before it)`,
        unit: 'ms',
        better: 'lower',
        target: q === 'p99' ? { limit: PROBE_P99_LIMIT_MS } : null,
        value: (r) => r.probes.latency[`${q}Ms`],
        delivery: probeDelivery,
      }),
    ),
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
}
