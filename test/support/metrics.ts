/**
 * A server's /metrics read as an operator's scraper reads it. The server renders it at
 * most once a second, so a test waits for a value rather than reading it once.
 */
import { waitUntil } from './wait';

/** The value of one sample (`name` or `name{label="value"}`, as printed), 0 when absent. */
export async function metricValue(url: string, sample: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** Resolves with the sample's value once `holds` accepts it. */
export async function metricWhere(url: string, sample: string, holds: (value: number) => boolean, what: string, timeoutMs = 20_000): Promise<number> {
  let last = Number.NaN;
  await waitUntil(async () => holds((last = await metricValue(url, sample))), `${sample} ${what} (last ${last})`, timeoutMs);
  return last;
}
