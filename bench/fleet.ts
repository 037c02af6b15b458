import { ChildLink, spawnBenchProcess } from './child-link';
import { DEFAULT_ROOM } from '../server/protocol';
import { cpuSeconds } from './cpu';
import type { ClientKind, Counters, ServerSetup, WorkerRequest } from './ipc';
import { CLIENT_CPU, startServerSide, type ServerSide } from './server-side';

const START_TIMEOUT_MS = 20_000;
const POLL_MS = 20;

export interface WorkerGroup {
  kind: ClientKind;
  count: number;
  /** The rooms its clients are dealt into, in turn (see the `connect` request); the lobby when absent. */
  rooms?: readonly string[];
  /** The loopback addresses its clients connect from, in turn; the system's choice when absent. */
  localAddresses?: readonly string[];
}

/**
 * One trial's processes: a fresh server side and one client worker per group. Group i
 * connects to node i of the server side, round the nodes.
 */
export class Fleet {
  private constructor(
    readonly server: ServerSide,
    readonly workers: ChildLink<WorkerRequest, unknown>[],
    readonly groups: readonly WorkerGroup[],
  ) {}

  static async start(setup: ServerSetup, groups: readonly WorkerGroup[]): Promise<Fleet> {
    const server = startServerSide(setup, START_TIMEOUT_MS);
    const workers = groups.map(
      (group, i) =>
        new ChildLink<WorkerRequest, unknown>(
          `worker ${i} (${group.kind})`,
          spawnBenchProcess('client-worker.ts', { cpu: CLIENT_CPU, args: [String(i)] }),
        ),
    );
    try {
      const [side] = await Promise.all([server, ...workers.map((w) => w.ready(START_TIMEOUT_MS))]);
      return new Fleet(side, workers, groups);
    } catch (err) {
      await Promise.all([server.then((side) => side.stop(), () => undefined), ...workers.map((w) => w.kill())]);
      throw err;
    }
  }

  get clientCount(): number {
    return this.groups.reduce((sum, group) => sum + group.count, 0);
  }

  /**
   * Every worker (or those of `only`, by index) opens its group's clients, `concurrency`
   * handshakes at a time each.
   */
  async connect(concurrency: number, timeoutMs: number, only: readonly number[] | null = null): Promise<void> {
    await Promise.all(
      this.workers.map((worker, i) => {
        if (only !== null && !only.includes(i)) return undefined;
        const { kind, count, rooms = [DEFAULT_ROOM], localAddresses = [] } = this.groups[i] as WorkerGroup;
        const url = this.server.urls[i % this.server.urls.length] as string;
        return worker.request({ cmd: 'connect', url, kind, count, concurrency, rooms: [...rooms], localAddresses: [...localAddresses] }, timeoutMs);
      }),
    );
  }

  /** CPU seconds used so far by the server side and by all client workers, each added up. */
  cpu(): { server: number | null; clients: number | null } {
    return { server: totalCpu(this.server.pids), clients: totalCpu(this.workers.map((worker) => worker.pid)) };
  }

  counters(): Promise<Counters[]> {
    return Promise.all(this.workers.map((worker) => worker.request<Counters>({ cmd: 'counters' })));
  }

  /** Asks every worker the same thing. */
  broadcast<Reply>(request: (workerIndex: number) => WorkerRequest): Promise<Reply[]> {
    return Promise.all(this.workers.map((worker, i) => worker.request<Reply>(request(i))));
  }

  /**
   * Polls the workers until `done` holds or nothing has arrived for `stallMs` (nothing
   * that `seen` counts: every chat and notice by default); returns the last counters
   * either way, so the caller reports what did arrive.
   */
  async waitFor(done: (total: Totals) => boolean, stallMs: number, seen: (total: Totals) => number = everything): Promise<Totals> {
    let total = sum(await this.counters());
    let lastProgress = Date.now();
    let lastSeen = seen(total);
    while (!done(total) && Date.now() - lastProgress < stallMs) {
      await sleep(POLL_MS);
      total = sum(await this.counters());
      const now = seen(total);
      if (now !== lastSeen) {
        lastSeen = now;
        lastProgress = Date.now();
      }
    }
    return total;
  }

  /** SIGKILL everything: a dying server sends no leave notices to clients nobody reads. */
  async stop(): Promise<void> {
    await this.server.stop();
    await Promise.all(this.workers.map((worker) => worker.kill()));
  }
}

const everything = (total: Totals) => total.chats + total.misrouted + total.notices;

function totalCpu(pids: readonly number[]): number | null {
  const seconds = pids.map(cpuSeconds);
  return seconds.some((s) => s === null) ? null : seconds.reduce<number>((sum, s) => sum + (s as number), 0);
}

/** The workers' counters added up. */
export interface Totals {
  chats: number;
  chatsInWindow: number;
  /** Chats that reached a client of another room (not in `chats`). */
  misrouted: number;
  notices: number;
  sent: number;
  lastNoticeAtMs: number;
  errors: number;
  errorSamples: string[];
}

export function sum(parts: readonly Counters[]): Totals {
  const total: Totals = { chats: 0, chatsInWindow: 0, misrouted: 0, notices: 0, sent: 0, lastNoticeAtMs: 0, errors: 0, errorSamples: [] };
  for (const part of parts) {
    total.chats += part.chats[0] + part.chats[1] + part.chats[2];
    total.chatsInWindow += part.chats[1];
    total.misrouted += part.misrouted;
    total.notices += part.notices;
    total.sent += part.sent;
    total.lastNoticeAtMs = Math.max(total.lastNoticeAtMs, part.lastNoticeAtMs);
    total.errors += part.errors;
    total.errorSamples.push(...part.errorSamples);
  }
  return total;
}

/** Joins announced to everyone present, the newcomer included: 1 + 2 + ... + n notices. */
export function joinNotices(clients: number): number {
  return (clients * (clients + 1)) / 2;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
