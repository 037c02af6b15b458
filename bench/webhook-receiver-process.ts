/**
 * The soak's webhook receiver: tools/webhook-receiver.ts in a process of its own, with
 * what it prints tallied here. Only batches it answered 2xx count as received; an event
 * received more than once is a duplicate (at least once allows it), never a loss.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { TSX_NODE_FLAGS } from '../tools/tsx';

const ROOT = path.resolve(__dirname, '..');
const START_TIMEOUT_MS = 20_000;

/** A fresh Standard Webhooks secret: `whsec_` and the base64 of 24 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

interface ReceivedEvent {
  id: string;
  type: string;
  data: { id?: string };
}

type ReceiverLine =
  | { type: 'listening'; port: number }
  | { type: 'batch'; id: string; events: ReceivedEvent[]; status: number }
  | { type: 'invalid'; reason: string };

/** What the receiver has seen so far. */
export interface WebhookTally {
  /** Distinct events in batches answered 2xx. */
  events: number;
  /** Events received again (in another 2xx batch) after they had been received. */
  duplicates: number;
  /** Distinct received events by type. */
  byType: Record<string, number>;
  /** Batches answered 2xx, and answered 500 on purpose (the server must send those again). */
  batchesAccepted: number;
  batchesFailed: number;
  /** Requests whose signature did not verify (must be none). */
  invalid: number;
}

export class WebhookReceiverProcess {
  private readonly seen = new Set<string>();
  /** The message ids of the distinct `message.created` events received. */
  readonly createdMessages = new Set<string>();
  private readonly tallied: WebhookTally = { events: 0, duplicates: 0, byType: {}, batchesAccepted: 0, batchesFailed: 0, invalid: 0 };
  /** Date.now() of the last request it printed (0: none yet). */
  lastRequestAt = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  /** Starts the receiver with `secret` (the server's WEBHOOK_SECRET), answering 500 to `failRate` of the batches at random. */
  static start(secret: string, failRate: number): Promise<WebhookReceiverProcess> {
    const child = spawn(process.execPath, [...TSX_NODE_FLAGS, path.join(ROOT, 'tools/webhook-receiver.ts'), '--port', '0', '--fail-rate', String(failRate)], {
      cwd: ROOT,
      env: { ...process.env, WEBHOOK_SECRET: secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return new Promise((resolve, reject) => {
      let receiver: WebhookReceiverProcess | null = null;
      const timer = setTimeout(() => reject(new Error(`webhook receiver did not listen within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`webhook receiver exited with ${code}`));
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
        const line = JSON.parse(text) as ReceiverLine;
        if (line.type === 'listening') {
          clearTimeout(timer);
          receiver = new WebhookReceiverProcess(child, `http://127.0.0.1:${line.port}/webhooks`);
          resolve(receiver);
        } else receiver?.take(line);
      });
    });
  }

  tally(): WebhookTally {
    return { ...this.tallied, byType: { ...this.tallied.byType } };
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }

  private take(line: Exclude<ReceiverLine, { type: 'listening' }>): void {
    this.lastRequestAt = Date.now();
    const t = this.tallied;
    if (line.type === 'invalid') {
      t.invalid += 1;
      return;
    }
    if (line.status < 200 || line.status > 299) {
      t.batchesFailed += 1;
      return;
    }
    t.batchesAccepted += 1;
    for (const event of line.events) {
      if (this.seen.has(event.id)) {
        t.duplicates += 1;
        continue;
      }
      this.seen.add(event.id);
      t.events += 1;
      t.byType[event.type] = (t.byType[event.type] ?? 0) + 1;
      if (event.type === 'message.created' && event.data.id !== undefined) this.createdMessages.add(event.data.id);
    }
  }
}

const DRAIN_POLL_MS = 250;
/** After the last client leaves, the events of its leaving are recorded within this (a turn's commit, a delivery poll). */
const DRAIN_SETTLE_MS = 2_000;
/** Drained: the outbox empty and no request for this long (a batch lingers 100 ms; a retry's wait keeps the queue non-empty). */
const DRAIN_QUIET_MS = 1_000;

/**
 * Waits until the server's outbox is empty (`queueDepth`: its chat_webhook_queue_events
 * gauge) and the receiver has been quiet for DRAIN_QUIET_MS, at most `timeoutMs`; true
 * when drained.
 */
export async function waitForDrain(receiver: WebhookReceiverProcess, queueDepth: () => Promise<number>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  await sleep(DRAIN_SETTLE_MS);
  while (Date.now() < deadline) {
    if ((await queueDepth()) === 0 && Date.now() - receiver.lastRequestAt >= DRAIN_QUIET_MS) return true;
    await sleep(DRAIN_POLL_MS);
  }
  return false;
}

/** The webhook figures of a soak: every acknowledged message's `message.created` received, and the member and room events balanced. */
export interface WebhookReport {
  drained: boolean;
  messageCreatedExpected: number;
  messageCreatedReceived: number;
  /** Acknowledged messages whose `message.created` never arrived in a 2xx batch: must be 0. */
  eventsLost: number;
  /** `message.created` of messages no sender saw acknowledged (e.g. the ack was on its way when the socket closed). */
  messageCreatedUnacknowledged: number;
  eventsReceived: number;
  duplicates: number;
  memberJoined: number;
  memberLeft: number;
  roomOccupied: number;
  roomVacated: number;
  batchesAnswered2xx: number;
  batchesAnswered500: number;
  invalidSignatures: number;
}

export function webhookReport(receiver: WebhookReceiverProcess, acknowledged: readonly string[], drained: boolean): WebhookReport {
  const tally = receiver.tally();
  const expected = new Set(acknowledged);
  const count = (type: string) => tally.byType[type] ?? 0;
  return {
    drained,
    messageCreatedExpected: expected.size,
    messageCreatedReceived: receiver.createdMessages.size,
    eventsLost: [...expected].filter((id) => !receiver.createdMessages.has(id)).length,
    messageCreatedUnacknowledged: [...receiver.createdMessages].filter((id) => !expected.has(id)).length,
    eventsReceived: tally.events,
    duplicates: tally.duplicates,
    memberJoined: count('member.joined'),
    memberLeft: count('member.left'),
    roomOccupied: count('room.occupied'),
    roomVacated: count('room.vacated'),
    batchesAnswered2xx: tally.batchesAccepted,
    batchesAnswered500: tally.batchesFailed,
    invalidSignatures: tally.invalid,
  };
}

/** What makes a soak with webhooks fail: a lost event, a forged or broken signature, members or rooms out of balance once everyone left, an outbox not drained. */
export function webhookFailures(report: WebhookReport): string[] {
  const failures: string[] = [];
  if (report.eventsLost > 0) failures.push(`${report.eventsLost} message.created events lost`);
  if (report.invalidSignatures > 0) failures.push(`${report.invalidSignatures} requests failed signature verification`);
  if (report.memberJoined !== report.memberLeft) failures.push(`member.joined ${report.memberJoined} against member.left ${report.memberLeft}`);
  if (report.roomOccupied !== report.roomVacated) failures.push(`room.occupied ${report.roomOccupied} against room.vacated ${report.roomVacated}`);
  if (!report.drained) failures.push('the outbox did not drain in time');
  return failures;
}
