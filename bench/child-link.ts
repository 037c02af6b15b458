import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { TSX_NODE_FLAGS } from '../tools/tsx';
import type { Envelope, ReplyEnvelope } from './ipc';

const ROOT = path.resolve(__dirname, '..');

/**
 * `taskset` where it exists: the server gets one core and the clients the other, so a
 * server never competes with its own load for the CPU (every figure in BENCHMARKS.md was
 * measured this way; see its "Method").
 */
export const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;

export interface ChildOptions {
  /** The core to pin the process to; ignored without taskset. */
  cpu: number;
  nodeFlags?: string[];
  args?: string[];
  /** The checkout whose bench/ holds `file` (this one unless given: see `--against`). */
  root?: string;
}

/**
 * Starts a bench TypeScript file in its own Node process through tsx's CommonJS hook,
 * as everything here runs TypeScript (tools/tsx.ts: no build step, and a quick start,
 * which matters when every trial starts fresh processes). The soft file-descriptor limit
 * is raised to the hard one first, which any user may do: 5000 clients need more than
 * the usual 1024.
 */
export function spawnBenchProcess(file: string, options: ChildOptions): ChildProcess {
  const root = options.root ?? ROOT;
  const node = [process.execPath, ...(options.nodeFlags ?? []), ...TSX_NODE_FLAGS, path.join(root, 'bench', file)];
  const command = hasTaskset ? ['taskset', '-c', String(options.cpu), ...node] : node;
  return spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...command, ...(options.args ?? [])], {
    cwd: root,
    // The child's stdout goes to our stderr: our stdout carries only the results table.
    stdio: ['ignore', process.stderr, process.stderr, 'ipc'],
  });
}

/**
 * The orchestrator's side of one child: typed requests, each answered once, and a clear
 * error for every pending request if the child dies.
 */
export class ChildLink<Request, Announcement> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (body: unknown) => void; reject: (err: Error) => void }>();
  private readonly announced: Promise<Announcement>;
  private exited = false;

  constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    this.announced = new Promise<Announcement>((resolve, reject) => {
      child.on('message', (raw: unknown) => {
        const message = raw as ReplyEnvelope<unknown> | { announce: Announcement };
        if ('announce' in message) {
          resolve(message.announce);
          return;
        }
        const waiter = this.pending.get(message.id);
        if (waiter === undefined) return;
        this.pending.delete(message.id);
        if (message.ok) waiter.resolve(message.body);
        else waiter.reject(new Error(`${label}: ${message.error}`));
      });
      child.once('exit', (code, signal) => {
        this.exited = true;
        const err = new Error(`${label} exited (code ${code}, signal ${signal})`);
        reject(err);
        for (const waiter of this.pending.values()) waiter.reject(err);
        this.pending.clear();
      });
    });
    // A rejection nobody awaits yet must not crash the orchestrator.
    this.announced.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** What the child sent first of its own accord (e.g. the port it listens on). */
  ready(timeoutMs: number): Promise<Announcement> {
    return withTimeout(this.announced, timeoutMs, `${this.label} did not start within ${timeoutMs} ms`);
  }

  request<Reply>(body: Request, timeoutMs = 30_000): Promise<Reply> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (body: unknown) => void, reject });
    });
    const envelope: Envelope<Request> = { id, body };
    this.child.send(envelope);
    return withTimeout(reply, timeoutMs, `${this.label}: no reply to ${JSON.stringify(body)} within ${timeoutMs} ms`);
  }

  /** SIGKILL: a server dies without telling N clients about N departures. */
  kill(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The child's side: answers each request with the handler's result or its error. The
 * child exits when the orchestrator goes away, so no server outlives a crashed run.
 */
export function serveRequests<Request>(handler: (request: Request) => Promise<unknown> | unknown): void {
  const send = (message: unknown) => process.send?.(message);
  process.on('message', (raw: unknown) => {
    const { id, body } = raw as Envelope<Request>;
    Promise.resolve()
      .then(() => handler(body))
      .then(
        (result) => send({ id, ok: true, body: result } satisfies ReplyEnvelope<unknown>),
        (err: unknown) => send({ id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Tells the orchestrator something once, unasked (see `ChildLink#ready`). */
export function announce<Announcement>(announcement: Announcement): void {
  process.send?.({ announce: announcement });
}
