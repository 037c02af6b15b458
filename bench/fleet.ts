import { ChildLink, spawnBenchProcess } from './child-link';
import { cpuSeconds } from './cpu';
import type { ClientKind, Counters, ServerName, ServerReady, ServerRequest, WorkerRequest } from './ipc';

/** The server gets core 0 to itself; the clients and the orchestrator share core 1. */
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const START_TIMEOUT_MS = 20_000;
const POLL_MS = 20;

export interface WorkerGroup {
  kind: ClientKind;
  count: number;
}

/** One trial's processes: a fresh server and one client worker per group. */
export class Fleet {
  private constructor(
    readonly serverName: ServerName,
    readonly server: ChildLink<ServerRequest, ServerReady>,
    readonly serverPid: number,
    readonly url: string,
    readonly workers: ChildLink<WorkerRequest, unknown>[],
    readonly groups: readonly WorkerGroup[],
  ) {}

  static async start(serverName: ServerName, groups: readonly WorkerGroup[]): Promise<Fleet> {
    const server = new ChildLink<ServerRequest, ServerReady>(
      `server ${serverName}`,
      spawnBenchProcess('server-process.ts', { cpu: SERVER_CPU, nodeFlags: ['--expose-gc'], args: [serverName] }),
    );
    const workers = groups.map(
      (group, i) =>
        new ChildLink<WorkerRequest, unknown>(
          `worker ${i} (${group.kind})`,
          spawnBenchProcess('client-worker.ts', { cpu: CLIENT_CPU, args: [String(i)] }),
        ),
    );
    try {
      const [ready] = await Promise.all([server.ready(START_TIMEOUT_MS), ...workers.map((w) => w.ready(START_TIMEOUT_MS))]);
      return new Fleet(serverName, server, ready.pid, `http://127.0.0.1:${ready.port}`, workers, groups);
    } catch (err) {
      await Promise.all([server.kill(), ...workers.map((w) => w.kill())]);
      throw err;
    }
  }

  get clientCount(): number {
    return this.groups.reduce((sum, group) => sum + group.count, 0);
  }

  /** Every worker opens its group's clients, `concurrency` handshakes at a time each. */
  async connect(concurrency: number, timeoutMs: number): Promise<void> {
    await Promise.all(
      this.workers.map((worker, i) => {
        const { kind, count } = this.groups[i] as WorkerGroup;
        return worker.request({ cmd: 'connect', url: this.url, kind, count, concurrency }, timeoutMs);
      }),
    );
  }

  /** CPU seconds used so far by the server and by all client workers together. */
  cpu(): { server: number | null; clients: number | null } {
    const clients = this.workers.map((worker) => cpuSeconds(worker.pid));
    return {
      server: cpuSeconds(this.serverPid),
      clients: clients.some((c) => c === null) ? null : clients.reduce<number>((a, c) => a + (c as number), 0),
    };
  }

  counters(): Promise<Counters[]> {
    return Promise.all(this.workers.map((worker) => worker.request<Counters>({ cmd: 'counters' })));
  }

  /** Asks every worker the same thing. */
  broadcast<Reply>(request: (workerIndex: number) => WorkerRequest): Promise<Reply[]> {
    return Promise.all(this.workers.map((worker, i) => worker.request<Reply>(request(i))));
  }

  /**
   * Polls the workers until `done` holds or nothing has arrived for `stallMs`; returns
   * the last counters either way, so the caller reports what did arrive.
   */
  async waitFor(done: (total: Totals) => boolean, stallMs: number): Promise<Totals> {
    let total = sum(await this.counters());
    let lastProgress = Date.now();
    let lastSeen = total.chats + total.notices;
    while (!done(total) && Date.now() - lastProgress < stallMs) {
      await sleep(POLL_MS);
      total = sum(await this.counters());
      const seen = total.chats + total.notices;
      if (seen !== lastSeen) {
        lastSeen = seen;
        lastProgress = Date.now();
      }
    }
    return total;
  }

  /** SIGKILL everything: a dying server sends no leave notices to clients nobody reads. */
  async stop(): Promise<void> {
    await this.server.kill();
    await Promise.all(this.workers.map((worker) => worker.kill()));
  }
}

/** The workers' counters added up. */
export interface Totals {
  chats: number;
  chatsInWindow: number;
  notices: number;
  sent: number;
  lastNoticeAtMs: number;
  errors: number;
  errorSamples: string[];
}

export function sum(parts: readonly Counters[]): Totals {
  const total: Totals = { chats: 0, chatsInWindow: 0, notices: 0, sent: 0, lastNoticeAtMs: 0, errors: 0, errorSamples: [] };
  for (const part of parts) {
    total.chats += part.chats[0] + part.chats[1] + part.chats[2];
    total.chatsInWindow += part.chats[1];
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
