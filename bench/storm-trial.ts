import { nowMs } from './clock';
import { Fleet, joinNotices, sleep, type WorkerGroup } from './fleet';
import type { ClientKind, MemoryReading, ServerName } from './ipc';
import type { Profile } from './profiles';
import { assertNoErrors, type Delivery } from './room-trial';

export interface StormResult {
  server: ServerName;
  clients: number;
  /** From the first connect to the last join notice reaching the last client. */
  stormSeconds: number;
  notices: Delivery;
  /** Server memory after the storm, idle and collected, less before it, per connection. */
  rssPerConnection: number;
  heapPerConnection: number;
  /** Reserved heap per connection: above heapPerConnection while V8 keeps a grown heap. */
  heapTotalPerConnection: number;
}

/**
 * A join storm on a fresh server: `clients` clients of one kind connect (each worker
 * keeps `connectConcurrency` handshakes in flight) and every join notice must reach every
 * client present. Then the room sits idle for `settleMs` and the server's memory is read.
 */
export async function runStormTrial(server: ServerName, kind: ClientKind, clients: number, profile: Profile): Promise<StormResult> {
  const half = Math.floor(clients / 2);
  const groups: WorkerGroup[] = [
    { kind, count: clients - half },
    { kind, count: half },
  ];
  const fleet = await Fleet.start(server, groups);
  try {
    const before = await fleet.server.main.request<MemoryReading>({ cmd: 'memory' });
    const expected = joinNotices(clients);
    const startedAt = nowMs();
    await fleet.connect(profile.connectConcurrency, profile.connectTimeoutMs);
    const totals = await fleet.waitFor((t) => t.notices >= expected, profile.stallMs);
    assertNoErrors(totals, 'storming');
    const stormSeconds = (totals.lastNoticeAtMs - startedAt) / 1000;

    await sleep(profile.settleMs);
    const after = await fleet.server.main.request<MemoryReading>({ cmd: 'memory' });
    return {
      server,
      clients,
      stormSeconds,
      notices: { delivered: totals.notices, expected },
      rssPerConnection: (after.rss - before.rss) / clients,
      heapPerConnection: (after.heapUsed + after.external - before.heapUsed - before.external) / clients,
      heapTotalPerConnection: (after.heapTotal - before.heapTotal) / clients,
    };
  } finally {
    await fleet.stop();
  }
}
