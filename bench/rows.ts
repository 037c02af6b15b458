import type { Delivery, RoomResult } from './room-trial';
import { median } from './stats';

export type Better = 'higher' | 'lower';
/** `core`: a share of one CPU core, 1 being all of it. */
export type Unit = 'deliveries/s' | 'messages/s' | 'handshakes/s' | 'ms' | 's' | 'bytes' | 'µs' | 'core';

/**
 * A target from the issue: a bound on the median ratio ours / baseline (`ratio`), or on
 * our median itself, in the row's unit (`limit`: strictly below it where lower is better,
 * strictly above where higher is).
 */
export type Target = { ratio: number } | { limit: number };

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

/** A row from values already paired up (e.g. against a single median). */
export function finish<T>(
  measure: Measure<T>,
  against: string,
  ours: number[],
  baseline: number[],
  ratios: number[],
  deliveries: Delivery[],
): Row {
  const medianRatio = median(ratios);
  const medianOurs = median(ours);
  const { target } = measure;
  const delivery: Delivery = deliveries.reduce(
    (sum, d) => ({ delivered: sum.delivered + d.delivered, expected: sum.expected + d.expected }),
    { delivered: 0, expected: 0 },
  );
  // Only where the trials checked it (several rooms): elsewhere there is no other room.
  const checked = deliveries.filter((d) => d.misrouted !== undefined);
  if (checked.length > 0) delivery.misrouted = checked.reduce((sum, d) => sum + (d.misrouted as number), 0);
  const surplus = deliveries.reduce((sum, d) => sum + (d.surplus ?? 0), 0);
  if (surplus > 0) delivery.surplus = surplus;
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
    medianOurs,
    medianBaseline: median(baseline),
    medianRatio,
    target,
    met: target === null ? null : isMet(target, measure.better, medianOurs, medianRatio),
    delivery,
    worstDelivery,
  };
}

function isMet(target: Target, better: Better, medianOurs: number, medianRatio: number): boolean {
  if ('ratio' in target) return better === 'higher' ? medianRatio >= target.ratio : medianRatio <= target.ratio;
  return better === 'higher' ? medianOurs > target.limit : medianOurs < target.limit;
}

export const fanoutDelivery = (r: RoomResult) => r.fanout;
export const latencyDelivery = (r: RoomResult) => r.latency;

/**
 * Server CPU time per delivery in the fan-out window, in microseconds: the server side's
 * share of a core (all its processes added up) over its deliveries per second; NaN where
 * /proc cannot be read. Raw fan-out is bound by the client core, so deliveries/s alone
 * under-reads what the server can do; this reads what each delivery cost it.
 */
export function cpuPerDelivery(r: RoomResult): number {
  return r.fanout.serverCpu === null ? Number.NaN : (r.fanout.serverCpu / r.fanout.deliveriesPerSecond) * 1e6;
}

/** Fan-out in deliveries/s of a room trial. */
export function fanoutMeasure(id: string, label: string, target: Target | null = null): Measure<RoomResult> {
  return { id, label, unit: 'deliveries/s', better: 'higher', target, value: (r) => r.fanout.deliveriesPerSecond, delivery: fanoutDelivery };
}

/** A latency quantile of a room trial, its messages sent at the profile's steady rate. */
export function latencyMeasure(id: string, label: string, quantile: 'p50' | 'p99' | 'max', target: Target | null = null): Measure<RoomResult> {
  return { id, label, unit: 'ms', better: 'lower', target, value: (r) => r.latency[`${quantile}Ms`], delivery: latencyDelivery };
}

/** The server's CPU per delivery in that trial's fan-out window (see cpuPerDelivery). */
export function cpuMeasure(id: string, label: string, target: Target | null = null): Measure<RoomResult> {
  return { id, label, unit: 'µs', better: 'lower', target, value: cpuPerDelivery, delivery: fanoutDelivery };
}
