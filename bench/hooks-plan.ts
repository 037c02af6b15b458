import { roomGroups, roomLine, type Timed } from './plan';
import type { Profile } from './profiles';
import { runRoomTrial, type RoomResult } from './room-trial';
import { compare, fanoutDelivery, latencyDelivery, type Measure, type Row } from './rows';
import { median } from './stats';

/**
 * Webhooks and the publish hook against neither (issue #23), in the raw room of the
 * single-process plan (its talkers' closed loop, and its latency probe): our server with
 * WEBHOOK_URL pointing at a receiver that answers 204 at once, with PUBLISH_HOOK_URL
 * pointing at a hook that allows at once, and with neither, each on its default store
 * (SQLite). Each repetition runs the three in turn (off, webhooks, hook), so a drift in
 * the machine's load touches all alike; each side is compared with the "off" of its own
 * repetition.
 */
export interface HookTrials {
  off: RoomResult[];
  webhooks: RoomResult[];
  publishHook: RoomResult[];
}

/** Message throughput with webhooks on is held to this share of it with them off. */
const WEBHOOKS_TARGET = 0.8;

/** Trials in runHooksPlan. */
export function hooksSteps(profile: Profile): number {
  return 3 * profile.repetitions;
}

export async function runHooksPlan(profile: Profile, timed: Timed): Promise<HookTrials> {
  const { raw } = roomGroups(profile);
  const trials: HookTrials = { off: [], webhooks: [], publishHook: [] };
  for (let r = 1; r <= profile.repetitions; r += 1) {
    trials.off.push(await timed(`raw room, no hooks, run ${r}`, () => runRoomTrial('ours', raw, profile), roomLine));
    trials.webhooks.push(await timed(`raw room, webhooks on, run ${r}`, () => runRoomTrial('ours-webhooks', raw, profile), roomLine));
    trials.publishHook.push(await timed(`raw room, publish hook on, run ${r}`, () => runRoomTrial('ours-publish-hook', raw, profile), roomLine));
  }
  return trials;
}

/** Messages the room's talkers got through per second in the fan-out window: each reaches every client. */
const messagesPerSecond = (r: RoomResult) => r.fanout.deliveriesPerSecond / r.clients;

/** The server's CPU time per message in that window, in microseconds (NaN where /proc cannot be read). */
const cpuPerMessage = (r: RoomResult) => (r.fanout.serverCpu === null ? Number.NaN : (r.fanout.serverCpu / messagesPerSecond(r)) * 1e6);

/**
 * Per hook: message throughput (webhooks held to WEBHOOKS_TARGET; the publish hook, which
 * adds a round trip to each message, to nothing), the server's CPU per message, and the
 * latency probe's p50 and p99, against no hooks, pair by pair.
 */
export function buildHooksRows(trials: HookTrials, profile: Profile): Row[] {
  const room = `raw room of ${profile.roomClients}, ${profile.senders} talkers`;
  const probe = `${profile.latencyRate} msg/s to ${profile.roomClients}`;
  const sides = [
    { id: 'webhooks', name: 'webhooks on (a receiver answering 204 at once)', results: trials.webhooks, target: { ratio: WEBHOOKS_TARGET } },
    { id: 'publish-hook', name: 'publish hook on (a hook allowing at once)', results: trials.publishHook, target: null },
  ] as const;
  const rows: Row[] = [];
  for (const side of sides) {
    const measures: Measure<RoomResult>[] = [
      {
        id: `${side.id}-throughput`,
        label: `Message throughput, ${room}, ${side.name}`,
        unit: 'messages/s',
        better: 'higher',
        target: side.target,
        value: messagesPerSecond,
        delivery: fanoutDelivery,
      },
      { id: `${side.id}-cpu`, label: `Server CPU per message, ${room}, ${side.name}`, unit: 'µs', better: 'lower', target: null, value: cpuPerMessage, delivery: fanoutDelivery },
      ...(['p50', 'p99'] as const).map(
        (q): Measure<RoomResult> => ({
          id: `${side.id}-latency-${q}`,
          label: `Raw latency ${q}, ${probe}, ${side.name}`,
          unit: 'ms',
          better: 'lower',
          target: null,
          value: (r) => r.latency[`${q}Ms`],
          delivery: latencyDelivery,
        }),
      ),
    ];
    for (const measure of measures) rows.push(compare(measure, 'ours, no hooks', side.results, trials.off));
  }
  return rows;
}

/** The median of the pairwise differences, `on` minus the `off` of the same repetition. */
function medianDifference(on: readonly RoomResult[], off: readonly RoomResult[], value: (r: RoomResult) => number): number {
  return median(on.map((r, i) => value(r) - value(off[i] as RoomResult)));
}

/** What each hook costs a message, stated under the table. */
export function hooksNote(trials: HookTrials): string {
  const cost = (on: readonly RoomResult[]) => {
    const cpu = medianDifference(on, trials.off, cpuPerMessage);
    const p50 = medianDifference(on, trials.off, (r) => r.latency.p50Ms);
    const p99 = medianDifference(on, trials.off, (r) => r.latency.p99Ms);
    const signed = (value: number, digits: number) => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
    return `${signed(cpu, 1)} µs of server CPU per message, ${signed(p50, 2)} ms latency p50, ${signed(p99, 2)} ms p99`;
  };
  return (
    'Per message, on minus off (medians of the differences within each repetition): ' +
    `webhooks ${cost(trials.webhooks)}; the publish hook ${cost(trials.publishHook)}. ` +
    'The hook backend (bench/hook-backend.ts) runs on the clients\' core, so the server CPU figures are the server\'s alone.'
  );
}
