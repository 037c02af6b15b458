import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How long one rendering of /metrics is served again. Rendering walks every metric and
 * collects process statistics (milliseconds of CPU): a loop of scrapes must not cost one
 * rendering each. Prometheus scrapes every 15 s or so, so a second of staleness is moot.
 */
export const METRICS_CACHE_MS = 1_000;

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

export type TransportName = 'raw' | 'socket.io';

/** Why a connection or a message was turned away; the `reason` label of chat_rejected_total. */
export type RejectReason =
  | 'rate' // over RATE_LIMIT
  | 'size' // over MAX_MESSAGE_BYTES, or a packet over Engine.IO's limit
  | 'invalid' // not a string, empty, binary, not UTF-8, malformed packet
  | 'origin' // foreign Origin
  | 'host' // Host header not in ALLOWED_HOSTS
  | 'auth' // missing or wrong CHAT_TOKEN, or a JWT refused
  | 'forbidden' // a JWT whose `rooms` claim does not include the room
  | 'capacity' // MAX_CONNECTIONS or MAX_CONNECTIONS_PER_IP reached
  | 'room_limit' // MAX_ROOMS rooms with clients, or MAX_ROOMS_PER_CONNECTION for one connection
  | 'slow_consumer' // more than MAX_BUFFERED_BYTES unsent
  | 'handshake_timeout' // no request head within HANDSHAKE_TIMEOUT_MS of connecting
  | 'pending_limit' // made way for a newer connection past MAX_PENDING_CONNECTIONS(_PER_IP)
  | 'banned' // a ban of the user or the address
  | 'muted' // a post of a muted user or address
  | 'publish_hook'; // a message or edit the publish hook rejected, or failed to answer about (PUBLISH_HOOK_ON_ERROR=reject)

/** The `verdict` label of chat_publish_hook_requests_total. */
export type PublishHookVerdict = 'allow' | 'reject' | 'replace' | 'error';
/**
 * The `reason` label of chat_publish_hook_failures_total: the request's (timeout,
 * unreachable, tls, redirect, too_large, error), `status` (not 2xx), `invalid` (an answer
 * that is no verdict), `queue_full` (the room's queue of waiting messages).
 */
export type PublishHookFailure = 'timeout' | 'unreachable' | 'tls' | 'redirect' | 'too_large' | 'error' | 'status' | 'invalid' | 'queue_full';

/** How an error `ws` reports for what a peer sent (its err.code) is counted. */
export function wsErrorReason(code: string | undefined): RejectReason {
  // A frame over maxPayload; everything else (bad UTF-8, bad opcodes, too many
  // fragments, ...) is an invalid message.
  return code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'size' : 'invalid';
}

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's global
 * one), so that several servers in one process (tests, WORKERS) keep separate counts.
 * Counters on the broadcast path are bumped once per broadcast, by the number of
 * receivers, never once per receiver.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly messagesIn = new Counter({
    name: 'chat_messages_in_total',
    help: 'Chat messages accepted from clients',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  private readonly deliveries = new Counter({
    name: 'chat_deliveries_total',
    help: 'Chat messages and notices handed to client connections',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  private readonly apiRequests = new Counter({
    name: 'chat_api_requests_total',
    help: 'HTTP API requests answered, by method and status',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });

  /** The rendering under way, shared by every scrape that arrives meanwhile. */
  private rendering: Promise<RenderedMetrics> | null = null;
  private cached: { at: number; value: RenderedMetrics } | null = null;

  private readonly rejected = new Counter({
    name: 'chat_rejected_total',
    help: 'Connections and messages refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly publishHookRequests = new Counter({
    name: 'chat_publish_hook_requests_total',
    help: 'Messages and edits the publish hook was asked about, by verdict (error: it failed to answer usably)',
    labelNames: ['verdict'] as const,
    registers: [this.registry],
  });

  private readonly publishHookFailures = new Counter({
    name: 'chat_publish_hook_failures_total',
    help: 'Publish hook requests without a usable answer, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly publishHookSeconds = new Histogram({
    name: 'chat_publish_hook_duration_seconds',
    help: 'How long the publish hook took to answer (or fail)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** `rooms`: how many rooms are in memory, read when scraped (no label per room: unbounded). */
  constructor(connections: Record<TransportName, () => number>, rooms: () => number = () => 1) {
    new Gauge({
      name: 'chat_rooms',
      help: 'Rooms held in memory (with clients, or used recently)',
      registers: [this.registry],
      collect() {
        this.set(rooms());
      },
    });
    new Gauge({
      name: 'chat_connections',
      help: 'Open client connections',
      labelNames: ['transport'] as const,
      registers: [this.registry],
      collect() {
        for (const [transport, count] of Object.entries(connections)) this.set({ transport }, count());
      },
    });
    // Includes nodejs_eventloop_lag_seconds and its percentiles, process memory and CPU.
    collectDefaultMetrics({ register: this.registry });
  }

  /** `api`: posted through the HTTP API by a backend. */
  messageIn(transport: TransportName | 'api'): void {
    this.messagesIn.inc({ transport });
  }

  /** Methods other than GET and POST count as `other`: a client must not make labels up. */
  apiRequest(method: string, status: number): void {
    this.apiRequests.inc({ method: method === 'GET' || method === 'POST' ? method : 'other', status: String(status) });
  }

  delivered(transport: TransportName, count: number): void {
    if (count > 0) this.deliveries.inc({ transport }, count);
  }

  reject(reason: RejectReason): void {
    this.rejected.inc({ reason });
  }

  /** The publish hook's verdict on one message or edit, and how long it took. */
  publishHookAnswered(verdict: PublishHookVerdict, seconds: number): void {
    this.publishHookRequests.inc({ verdict });
    this.publishHookSeconds.observe(seconds);
  }

  /** A publish hook request that got no usable answer (its verdict counts as `error`). */
  publishHookFailed(reason: PublishHookFailure): void {
    this.publishHookFailures.inc({ reason });
  }

  /**
   * The text format Prometheus scrapes: rendered at most once per METRICS_CACHE_MS, and
   * once for all the scrapes that arrive while it is being rendered.
   */
  render(): Promise<RenderedMetrics> {
    if (this.cached !== null && Date.now() - this.cached.at < METRICS_CACHE_MS) return Promise.resolve(this.cached.value);
    this.rendering ??= this.registry
      .metrics()
      .then((body) => {
        const value = { contentType: this.registry.contentType, body };
        this.cached = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        this.rendering = null;
      });
    return this.rendering;
  }
}
