/**
 * The webhook receiver (tools/webhook-receiver.ts) in a process of its own, as a test's
 * second process: it verifies each request's signature and prints a JSON line per
 * request, which this reads. A test waits on those lines (what the receiver got), never
 * on time.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TSX_NODE_FLAGS } from '../../tools/tsx';
import { onCleanup } from './cleanup';

const RECEIVER = path.resolve(__dirname, '../../tools/webhook-receiver.ts');

/** How long a wait on the receiver may take before it fails, saying what it saw. */
export const RECEIVER_WAIT_MS = 30_000;

/** A fresh Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** What the receiver answers (see tools/webhook-receiver.ts). */
export type ReceiverMode = 'ok' | 'ok-empty' | 'ok-body' | 'ok-chunked' | 'fail' | 'hang' | 'slow' | 'trickle' | 'redirect' | 'huge';

/** One event as the receiver got it, its `data` parsed. */
export interface ReceivedEvent {
  id: string;
  type: string;
  room: string | null;
  at: number;
  data: Record<string, unknown>;
}

/** One verified request: its webhook-id, its events, the status it was answered (0: none), and the number of the connection that carried it. */
export interface ReceivedBatch {
  id: string;
  events: ReceivedEvent[];
  status: number;
  connection: number;
}

export interface ReceiverOptions {
  /** The secret it verifies with (the server's, unless a test wants them to differ). */
  secret: string;
  mode?: ReceiverMode;
  /** The size of a `huge` answer's body. */
  hugeMb?: number;
  /** An https receiver with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** The port to listen on (a free one by default). */
  port?: number;
}

export interface WebhookReceiver {
  /** Where the server posts: http(s)://127.0.0.1:<port>/webhooks. */
  readonly url: string;
  readonly port: number;
  /** Every verified request so far, across restarts, in the order they came. */
  readonly batches: readonly ReceivedBatch[];
  /** The reasons of the requests that failed verification. */
  readonly invalid: readonly string[];
  /** The reasons of TLS handshakes that failed (https only). */
  readonly tlsErrors: readonly string[];
  /** The events of the batches answered 2xx, in the order they came (duplicates kept). */
  accepted(): ReceivedEvent[];
  /** Resolves once `condition` holds, looking at it again as each line comes. */
  waitFor(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the accepted events once there are at least `count`. */
  waitForEvents(count: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** Changes what it answers from now on; resolves once it says so. */
  mode(mode: ReceiverMode): Promise<void>;
  /** Ends the process (SIGKILL: its connections are cut, as a receiver that goes down). */
  stop(): Promise<void>;
  /** Starts it again on the same port, answering `mode` (ok by default). */
  restart(mode?: ReceiverMode): Promise<void>;
}

interface Line {
  type: 'listening' | 'batch' | 'invalid' | 'tls-error' | 'mode';
  port?: number;
  id?: string;
  events?: (Omit<ReceivedEvent, 'data'> & { data: Record<string, unknown> })[];
  status?: number;
  connection?: number;
  reason?: string;
  mode?: string;
}

interface Waiter {
  check: () => boolean;
  resolve: () => void;
}

const isAccepted = (batch: ReceivedBatch) => batch.status >= 200 && batch.status < 300;

/** Starts the receiver and resolves once it listens. */
export async function startReceiver(options: ReceiverOptions): Promise<WebhookReceiver> {
  const batches: ReceivedBatch[] = [];
  const invalid: string[] = [];
  const tlsErrors: string[] = [];
  const waiters = new Set<Waiter>();
  let child: ChildProcessWithoutNullStreams | null = null;
  let exited: Promise<unknown> = Promise.resolve();
  let stderr = '';
  let port = 0;
  let listening: ((port: number) => void) | null = null;
  let modeSet: ((mode: string) => void) | null = null;

  const settle = () => {
    for (const waiter of waiters) {
      if (waiter.check()) {
        waiters.delete(waiter);
        waiter.resolve();
      }
    }
  };

  const onLine = (text: string) => {
    const line = JSON.parse(text) as Line;
    if (line.type === 'listening') listening?.(line.port as number);
    else if (line.type === 'batch') batches.push({ id: line.id as string, events: line.events ?? [], status: line.status as number, connection: line.connection as number });
    else if (line.type === 'invalid') invalid.push(line.reason as string);
    else if (line.type === 'tls-error') tlsErrors.push(line.reason as string);
    else if (line.type === 'mode') modeSet?.(line.mode as string);
    settle();
  };

  const launch = async (mode: ReceiverMode, atPort: number): Promise<number> => {
    const args = [...TSX_NODE_FLAGS, RECEIVER, '--port', String(atPort), '--mode', mode, '--huge-mb', String(options.hugeMb ?? 64)];
    if (options.tls !== undefined) args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
    const started = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: options.secret },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = started;
    exited = once(started, 'exit');
    started.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    createInterface({ input: started.stdout }).on('line', onLine);
    const listeningAt = new Promise<number>((resolve) => (listening = resolve));
    const failed = exited.then(() => {
      throw new Error(`the webhook receiver exited before it listened; stderr: ${stderr}`);
    });
    try {
      return await Promise.race([listeningAt, failed]);
    } finally {
      listening = null;
    }
  };

  const stop = async () => {
    const running = child;
    child = null;
    if (running !== null && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
    await exited;
  };
  onCleanup('servers', stop);

  port = await launch(options.mode ?? 'ok', options.port ?? 0);
  const scheme = options.tls === undefined ? 'http' : 'https';

  const receiver: WebhookReceiver = {
    url: `${scheme}://127.0.0.1:${port}/webhooks`,
    port,
    batches,
    invalid,
    tlsErrors,
    accepted: () => batches.filter(isAccepted).flatMap((batch) => batch.events),
    waitFor(condition, what, timeoutMs = RECEIVER_WAIT_MS) {
      if (condition()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const errors = stderr === '' ? '' : `; its stderr: ${stderr.slice(-2000)}`;
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the receiver to get ${what}; it saw ${describe(batches, invalid, tlsErrors)}${errors}`));
        }, timeoutMs);
        const waiter: Waiter = {
          check: condition,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.add(waiter);
      });
    },
    async waitForEvents(count, timeoutMs) {
      await receiver.waitFor(() => receiver.accepted().length >= count, `${count} accepted events`, timeoutMs);
      return receiver.accepted();
    },
    async mode(mode) {
      const running = child;
      if (running === null) throw new Error('the webhook receiver is stopped');
      const confirmed = new Promise<void>((resolve) => {
        modeSet = (now) => {
          if (now === mode) resolve();
        };
      });
      running.stdin.write(`${mode}\n`);
      await confirmed;
      modeSet = null;
    },
    stop,
    async restart(mode = 'ok') {
      await stop();
      await launch(mode, port);
    },
  };
  return receiver;
}

/** What the receiver saw, short enough for a failure's message. */
function describe(batches: readonly ReceivedBatch[], invalid: readonly string[], tlsErrors: readonly string[]): string {
  const statuses = new Map<number, number>();
  for (const batch of batches) statuses.set(batch.status, (statuses.get(batch.status) ?? 0) + 1);
  const types = new Map<string, number>();
  for (const event of batches.filter(isAccepted).flatMap((batch) => batch.events)) types.set(event.type, (types.get(event.type) ?? 0) + 1);
  const last = batches.at(-1);
  return [
    `${batches.length} batches (by status: ${JSON.stringify(Object.fromEntries(statuses))})`,
    `accepted events by type: ${JSON.stringify(Object.fromEntries(types))}`,
    `${invalid.length} invalid${invalid.length > 0 ? ` (${invalid[0]})` : ''}`,
    `${tlsErrors.length} TLS errors${tlsErrors.length > 0 ? ` (${tlsErrors[0]})` : ''}`,
    `last batch: ${last === undefined ? 'none' : JSON.stringify(last).slice(0, 600)}`,
  ].join('; ');
}
