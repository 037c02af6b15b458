import type { HistogramData } from './ipc';

const BUCKET_US = 10;
const SPAN_US = 10_000_000; // 10 s; anything slower lands in the last bucket (max stays exact)
/** A quantile read as this is at least this: its samples are in the last bucket. */
export const LATENCY_CEILING_MS = SPAN_US / 1000;

/**
 * Latencies in fixed 10 µs buckets: recording is one increment, whatever the number of
 * samples (a full run records about a million per worker), and workers' histograms add up.
 */
export class Histogram {
  private readonly counts = new Uint32Array(SPAN_US / BUCKET_US);
  private count = 0;
  private maxUs = 0;

  record(us: number): void {
    const bucket = Math.min(this.counts.length - 1, Math.max(0, Math.floor(us / BUCKET_US)));
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.count += 1;
    if (us > this.maxUs) this.maxUs = us;
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    this.counts.forEach((n, i) => {
      if (n > 0) buckets.push([i, n]);
    });
    return { bucketUs: BUCKET_US, buckets, count: this.count, maxUs: this.maxUs };
  }
}

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Merges workers' histograms and reads p50, p99 (bucket upper bounds) and the exact max. */
export function summarize(parts: readonly HistogramData[]): LatencySummary {
  const merged = new Map<number, number>();
  let samples = 0;
  let maxUs = 0;
  let bucketUs = BUCKET_US;
  for (const part of parts) {
    bucketUs = part.bucketUs;
    samples += part.count;
    maxUs = Math.max(maxUs, part.maxUs);
    for (const [bucket, n] of part.buckets) merged.set(bucket, (merged.get(bucket) ?? 0) + n);
  }
  const ordered = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const quantile = (q: number): number => {
    const rank = Math.ceil(q * samples);
    let seen = 0;
    for (const [bucket, n] of ordered) {
      seen += n;
      if (seen >= rank) return Math.min(((bucket + 1) * bucketUs) / 1000, maxUs / 1000);
    }
    return maxUs / 1000;
  };
  return { samples, p50Ms: quantile(0.5), p99Ms: quantile(0.99), maxMs: maxUs / 1000 };
}
