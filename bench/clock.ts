/**
 * `process.hrtime` reads CLOCK_MONOTONIC, one clock for every process on the machine, so
 * a time stamped in one process (a send, the start of a storm) can be compared with a
 * time read in another (a delivery, the last notice).
 */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
