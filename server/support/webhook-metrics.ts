import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** How far along the webhook outbox is, as the delivery last read it. */
export interface OutboxReading {
  events: number;
  oldestAt: number | null;
}

/** The webhook delivery's metrics, in the server's registry. */
export class WebhookMetrics {
  private readonly queue: Gauge;
  private readonly oldestAge: Gauge;
  private readonly deliveries: Counter<'outcome'>;
  private readonly failures: Counter<'reason'>;
  private readonly deliveredEvents: Counter;
  private readonly droppedEvents: Counter;
  private readonly seconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.queue = new Gauge({ name: 'chat_webhook_queue_events', help: 'Webhook events waiting in the outbox (all nodes)', registers });
    this.oldestAge = new Gauge({ name: 'chat_webhook_oldest_event_age_seconds', help: 'Age of the oldest undelivered webhook event (0: none)', registers });
    this.deliveries = new Counter({ name: 'chat_webhook_deliveries_total', help: 'Webhook requests made, by outcome', labelNames: ['outcome'], registers });
    this.failures = new Counter({ name: 'chat_webhook_failures_total', help: 'Webhook requests that failed, by reason (status, timeout, unreachable, tls, redirect, error)', labelNames: ['reason'], registers });
    this.deliveredEvents = new Counter({ name: 'chat_webhook_events_delivered_total', help: 'Webhook events a receiver accepted', registers });
    this.droppedEvents = new Counter({ name: 'chat_webhook_events_dropped_total', help: 'Webhook events dropped undelivered, older than WEBHOOK_MAX_AGE', registers });
    this.seconds = new Histogram({
      name: 'chat_webhook_delivery_seconds',
      help: 'How long a receiver took to accept a batch',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
  }

  setDepth(depth: OutboxReading, now: number): void {
    this.queue.set(depth.events);
    this.oldestAge.set(depth.oldestAt === null ? 0 : Math.max(0, (now - depth.oldestAt) / 1000));
  }

  delivered(events: number, seconds: number): void {
    this.deliveries.inc({ outcome: 'ok' });
    this.deliveredEvents.inc(events);
    this.seconds.observe(seconds);
  }

  failed(reason: string): void {
    this.deliveries.inc({ outcome: 'failed' });
    this.failures.inc({ reason });
  }

  dropped(events: number): void {
    this.droppedEvents.inc(events);
  }
}
