import { nowMs } from './clock';
import { Fleet, joinNotices, sleep, sum, type Totals, type WorkerGroup } from './fleet';
import { summarize, type LatencySummary } from './histogram';
import type { ClientKind, HistogramData, MemoryReading, ProbeTally, ServerSetup } from './ipc';
import type { Profile } from './profiles';
import { assertNoErrors, type Delivery } from './room-trial';

/** How often the probe client sends a chat through the storm. */
export const PROBE_INTERVAL_MS = 100;
const POLL_MS = 20;
/** After the count of notices is reached: how long no notice must come for the storm to be over. */
const NOTICE_QUIET_MS = 250;

export interface StormResult {
  server: ServerSetup;
  /** The storm's clients (the probe client, there before it, not included). */
  clients: number;
  /** From the first connect to the last join notice reaching the last client. */
  stormSeconds: number;
  /** Every join notice, the probe client's included: joinNotices(clients + 1). */
  notices: Delivery;
  /**
   * The chats the probe client sent through the storm: each owed to every client in the
   * room when it left (probe-log.ts), the sender included; latency from send to receipt
   * of every probe owed and received.
   */
  probes: Delivery & { sent: number; latency: LatencySummary };
  /** Server memory after the storm, idle and collected, less before it, per connection. */
  rssPerConnection: number;
  heapPerConnection: number;
  /** Reserved heap per connection: above heapPerConnection while V8 keeps a grown heap. */
  heapTotalPerConnection: number;
}

/**
 * A join storm on a fresh server. First one probe client connects (a worker of its own)
 * and the server's memory is read. Then the probe client sends a chat every
 * PROBE_INTERVAL_MS while `clients` clients of the same kind connect (two workers, each
 * keeping `connectConcurrency` handshakes in flight), until every join notice has reached
 * every client present. Every probe must reach every client in the room when it was sent.
 * Then the room sits idle for `settleMs` and the server's memory is read again.
 */
export async function runStormTrial(server: ServerSetup, kind: ClientKind, clients: number, profile: Profile): Promise<StormResult> {
  const half = Math.floor(clients / 2);
  const groups: WorkerGroup[] = [
    { kind, count: 1 },
    { kind, count: clients - half },
    { kind, count: half },
  ];
  const fleet = await Fleet.start(server, groups);
  try {
    await fleet.broadcast(() => ({ cmd: 'probe-watch' }));
    await fleet.connect(profile.connectConcurrency, profile.connectTimeoutMs, [0]);
    assertNoErrors(await fleet.waitFor((t) => t.notices >= 1, profile.stallMs), 'connecting the probe client');
    // Read as settled as the reading after the storm: a server just started still holds
    // heap it gives back over the next seconds, which made the difference negative.
    await sleep(profile.settleMs);
    const before = await fleet.server.main.request<MemoryReading>({ cmd: 'memory' });

    const prober = fleet.workers[0] as Fleet['workers'][number];
    const expected = joinNotices(clients + 1);
    await prober.request({ cmd: 'probe-start', sender: 0, intervalMs: PROBE_INTERVAL_MS });
    const startedAt = nowMs();
    await fleet.connect(profile.connectConcurrency, profile.connectTimeoutMs, [1, 2]);
    // Notices only: the probes keep coming whether or not the storm has stalled.
    await fleet.waitFor((t) => t.notices >= expected, profile.stallMs, (t) => t.notices);
    const totals = await noticesQuiet(fleet);
    const sentUs = await prober.request<number[]>({ cmd: 'probe-stop' });
    assertNoErrors(totals, 'storming');
    const stormSeconds = (totals.lastNoticeAtMs - startedAt) / 1000;
    const probes = await drainProbes(fleet, sentUs, profile.stallMs);

    await sleep(profile.settleMs);
    const after = await fleet.server.main.request<MemoryReading>({ cmd: 'memory' });
    return {
      server,
      clients,
      stormSeconds,
      notices: {
        delivered: Math.min(totals.notices, expected),
        expected,
        ...(totals.notices > expected ? { surplus: totals.notices - expected } : {}),
      },
      probes,
      rssPerConnection: (after.rss - before.rss) / clients,
      heapPerConnection: (after.heapUsed + after.external - before.heapUsed - before.external) / clients,
      heapTotalPerConnection: (after.heapTotal - before.heapTotal) / clients,
    };
  } finally {
    await fleet.stop();
  }
}

/**
 * Waits until no notice has come for NOTICE_QUIET_MS. Why: a server that holds a join's
 * notice behind a message being stored (ours: room.ts keeps a room's events in order)
 * sends it to whoever is in the room when it goes out, which can include clients that
 * joined after it; so the total can reach joinNotices(n) while some clients still wait
 * for theirs. The storm ends with the last notice to arrive, however long the wait was;
 * the notices beyond the count are reported as a surplus (a count cannot tell one of
 * them from one that was expected).
 */
async function noticesQuiet(fleet: Fleet): Promise<Totals> {
  let totals = sum(await fleet.counters());
  let lastChange = Date.now();
  while (Date.now() - lastChange < NOTICE_QUIET_MS) {
    await sleep(POLL_MS);
    const next = sum(await fleet.counters());
    if (next.notices !== totals.notices) lastChange = Date.now();
    totals = next;
  }
  return totals;
}

/** Waits until every probe owed has arrived, or nothing more comes for `stallMs`; counts them. */
async function drainProbes(fleet: Fleet, sentUs: number[], stallMs: number): Promise<StormResult['probes']> {
  const tally = async (): Promise<ProbeTally> => {
    const parts = await fleet.broadcast<ProbeTally>(() => ({ cmd: 'probe-tally', sentUs }));
    return parts.reduce((sum, p) => ({ expected: sum.expected + p.expected, delivered: sum.delivered + p.delivered }), { expected: 0, delivered: 0 });
  };
  let counted = await tally();
  let lastProgress = Date.now();
  while (counted.delivered < counted.expected && Date.now() - lastProgress < stallMs) {
    await sleep(POLL_MS);
    const next = await tally();
    if (next.delivered !== counted.delivered) lastProgress = Date.now();
    counted = next;
  }
  assertNoErrors(await fleet.waitFor(() => true, stallMs), 'draining the probes');
  const latency = summarize(await fleet.broadcast<HistogramData>(() => ({ cmd: 'probe-latency' })));
  return { ...counted, sent: sentUs.length, latency };
}
