import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { EventOutbox, WebhookEvent } from '../store/event-outbox';
import type { Metrics } from '../support/metrics';
import { WebhookMetrics } from '../support/webhook-metrics';
import { ThrottledWarning } from '../support/throttled-warning';
import { HookClient, PostError } from './http-post';
import { Signer } from './signing';

/** A batch holds at most this many events ... */
export const BATCH_EVENTS = 100;
/** ... and waits this long for more once its first event is seen. */
export const BATCH_LINGER_MS = 100;
/** How often an idle outbox is looked at: events of other nodes (and this one's) are found by it. */
const IDLE_POLL_MS = 100;
/** The lease: a node that stops renewing it (dead, cut off) loses it after this long. */
export const LEASE_MS = 15_000;
/** A node without the lease asks for it this often. */
const LEASE_POLL_MS = 1_000;
/** The first retry waits up to this long; each failure in a row doubles it, up to WEBHOOK_RETRY_MAX_MS. */
const RETRY_BASE_MS = 1_000;
/** A failed delivery is logged at most this often, with how many failed since. */
const FAILURE_LOG_MS = 10_000;

export interface WebhookDeliveryOptions {
  outbox: EventOutbox;
  client: HookClient;
  signer: Signer;
  logger: Logger;
  metrics: WebhookMetrics;
  /** WEBHOOK_MAX_AGE, in ms. */
  maxAgeMs: number;
  timeoutMs: number;
  retryMaxMs: number;
  random?: () => number;
  now?: () => number;
}

/** The webhook-id of a batch: the same for the same events, so a retry of it is known as one. */
export function batchId(events: readonly WebhookEvent[]): string {
  const hash = createHash('sha256');
  for (const event of events) hash.update(event.id).update('\n');
  return `msg_${hash.digest('base64url').slice(0, 24)}`;
}

/** The body of a batch, made of the events' stored JSON without parsing it. */
export function batchBody(events: readonly WebhookEvent[]): string {
  const parts = events.map(
    (e) => `{"id":${JSON.stringify(e.id)},"type":${JSON.stringify(e.type)},"room":${JSON.stringify(e.room)},"at":${e.at},"data":${e.data}}`,
  );
  return `{"events":[${parts.join(',')}]}`;
}

/**
 * Delivers the outbox's events to WEBHOOK_URL: the oldest first, up to BATCH_EVENTS a
 * request, one request at a time (so one room's events arrive in order), from the one
 * node holding the lease. A batch is removed once answered 2xx; anything else (another
 * status, no answer in time, a refused connection, a redirect, an untrusted certificate)
 * sends the same batch again after a random wait of up to 1 s * 2^failures (full
 * jitter), capped at WEBHOOK_RETRY_MAX_MS. Events older than WEBHOOK_MAX_AGE are
 * dropped, logged and counted. Nothing is held but the batch in hand.
 */
export class WebhookDelivery {
  /** This node, as the lease knows it. */
  readonly owner = `node-${randomBytes(6).toString('hex')}`;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private failures = 0;
  private leasedUntil = 0;
  private readonly failureLog: ThrottledWarning;
  private readonly outboxLog: ThrottledWarning;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: WebhookDeliveryOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    // On the delivery's clock, as everything else it times.
    this.failureLog = new ThrottledWarning(FAILURE_LOG_MS, this.now);
    this.outboxLog = new ThrottledWarning(FAILURE_LOG_MS, this.now);
  }

  /** The delivery WEBHOOK_URL asks for, of the store's outbox; null when it is not set. */
  static fromConfig(config: Config, outbox: EventOutbox | undefined, metrics: Metrics, logger: Logger): WebhookDelivery | null {
    if (config.webhookUrl === null || config.webhookSecret === null || outbox === undefined) return null;
    return new WebhookDelivery({
      outbox,
      client: new HookClient(new URL(config.webhookUrl), 1),
      signer: new Signer(config.webhookSecret),
      logger: logger.child({ component: 'webhooks' }),
      metrics: new WebhookMetrics(metrics.registry),
      maxAgeMs: config.webhookMaxAgeS * 1000,
      timeoutMs: config.webhookTimeoutMs,
      retryMaxMs: config.webhookRetryMaxMs,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => this.options.logger.error({ err }, 'webhook delivery stopped'));
  }

  /** Stops after the request in flight, if any (its batch stays in the outbox unless it was answered). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // A request in flight fails now: its batch stays in the outbox, for the next start or another node.
    this.options.client.close();
    await this.loop;
    try {
      await this.options.outbox.release(this.owner);
    } catch {
      // The store is gone already: the lease lapses by itself.
    }
  }

  private async run(): Promise<void> {
    const { outbox, metrics } = this.options;
    /** The batch in hand: sent again as it was (same webhook-id) until answered, less what expires. */
    let batch: WebhookEvent[] | null = null;
    let lingered = false;
    while (this.running) {
      try {
        metrics.setDepth(await outbox.depth(), this.now());
        if (!(await this.holdLease())) {
          batch = null;
          await this.sleep(LEASE_POLL_MS);
          continue;
        }
        const cutoff = this.now() - this.options.maxAgeMs;
        await this.expire(cutoff);
        if (batch !== null) batch = batch.filter((event) => event.at >= cutoff);
        if (batch === null || batch.length === 0) {
          const oldest = await outbox.oldest(BATCH_EVENTS);
          if (oldest.length === 0 || (oldest.length < BATCH_EVENTS && !lingered)) {
            lingered = oldest.length > 0;
            batch = null;
            await this.sleep(oldest.length === 0 ? IDLE_POLL_MS : BATCH_LINGER_MS);
            continue;
          }
          batch = oldest;
          lingered = false;
        }
        if (await this.send(batch)) {
          await outbox.remove(batch);
          batch = null;
          this.failures = 0;
        } else {
          this.failures += 1;
          await this.waitHoldingLease(this.backoff());
        }
      } catch (err) {
        // The store is unavailable: nothing is lost, its events wait in it.
        const failures = this.outboxLog.occurred();
        if (failures > 0) this.options.logger.warn({ err: (err as Error).message, failures }, 'webhook outbox unavailable; retrying');
        batch = null;
        await this.sleep(LEASE_POLL_MS);
      }
    }
  }

  /** Takes the lease, or renews it once half of it has gone by: true while this node holds it. */
  private async holdLease(): Promise<boolean> {
    if (this.now() < this.leasedUntil - LEASE_MS / 2) return true;
    if (!(await this.options.outbox.lease(this.owner, LEASE_MS))) {
      this.leasedUntil = 0;
      return false;
    }
    this.leasedUntil = this.now() + LEASE_MS;
    return true;
  }

  /** Waits `ms` (a retry's backoff, up to minutes), renewing the lease meanwhile so that the batch stays this node's. */
  private async waitHoldingLease(ms: number): Promise<void> {
    const end = this.now() + ms;
    while (this.running && this.now() < end) {
      await this.sleep(Math.min(LEASE_MS / 3, end - this.now()));
      if (!(await this.holdLease())) return;
    }
  }

  /** Full jitter: a random wait of up to 1 s * 2^(failures - 1), at most WEBHOOK_RETRY_MAX_MS. */
  private backoff(): number {
    const ceiling = Math.min(this.options.retryMaxMs, RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 30));
    return Math.floor(this.random() * ceiling);
  }

  private async expire(cutoff: number): Promise<void> {
    const dropped = await this.options.outbox.expire(cutoff);
    if (dropped > 0) {
      this.options.metrics.dropped(dropped);
      this.options.logger.warn({ dropped, maxAgeS: this.options.maxAgeMs / 1000 }, 'webhook events older than WEBHOOK_MAX_AGE dropped undelivered');
    }
  }

  /** One attempt at delivering `batch`: true when the receiver answered 2xx. */
  private async send(batch: readonly WebhookEvent[]): Promise<boolean> {
    const { client, signer, metrics, timeoutMs } = this.options;
    const body = batchBody(batch);
    const id = batchId(batch);
    const started = performance.now();
    let failure: { reason: string; detail: string; status?: number };
    // A request may outlast the lease (WEBHOOK_TIMEOUT_MS may be long): renewed meanwhile,
    // so that no other node sends the same batch while this one waits for its answer.
    const renewing = setInterval(() => void this.holdLease().catch(() => undefined), LEASE_MS / 3);
    try {
      const answer = await client.post(body, { headers: { ...signer.sign(id, body) }, timeoutMs, maxBodyBytes: 0 }).finally(() => clearInterval(renewing));
      if (answer.status >= 200 && answer.status < 300) {
        metrics.delivered(batch.length, (performance.now() - started) / 1000);
        return true;
      }
      failure = { reason: 'status', detail: `answered ${answer.status}`, status: answer.status };
    } catch (err) {
      failure = err instanceof PostError ? { reason: err.reason, detail: err.message } : { reason: 'error', detail: (err as Error).message };
    }
    metrics.failed(failure.reason);
    this.logFailure(id, batch.length, failure);
    return false;
  }

  private logFailure(id: string, events: number, failure: { reason: string; detail: string; status?: number }): void {
    const failures = this.failureLog.occurred();
    if (failures === 0) return;
    this.options.logger.warn(
      { webhookId: id, events, reason: failure.reason, status: failure.status, failuresInARow: this.failures + 1, failures, url: this.options.client.url.origin },
      `webhook delivery failed (${failure.detail}); retrying with backoff`,
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = null;
    });
  }
}
