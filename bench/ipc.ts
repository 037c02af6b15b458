/**
 * What the orchestrator (bench/run.ts) and its child processes say to each other over
 * Node's IPC channel. Every request carries an id and gets exactly one reply with it.
 * Nothing here crosses the loopback sockets under test.
 */

/** Which wire protocol a bench client speaks. */
export type ClientKind = 'raw' | 'sio';

/**
 * The servers the benchmark can start, each in its own pinned process: ours, and the bare
 * baselines, with one room (`ws-loop`, `socketio-emit`) or with rooms (`ws-rooms`,
 * `socketio-rooms`).
 */
export type ServerName = 'ours' | 'ws-loop' | 'socketio-emit' | 'ws-rooms' | 'socketio-rooms';

/**
 * How the server side of a trial is deployed: one of the servers above as one process,
 * or ours on several (bench/server-side.ts): two nodes sharing a redis-server or a
 * Redis Cluster of three, or WORKERS=2 behind one port. `ours` keeps its default store (SQLite, in a fresh temporary
 * DATA_DIR); `ours-memory` is ours with DATA_DIR=:memory:, the store kept in memory only;
 * `ours-other` is ours from another checkout (`--against`); `ours-webhooks` and
 * `ours-publish-hook` are ours with WEBHOOK_URL or PUBLISH_HOOK_URL pointing at a backend
 * process that answers at once (bench/hook-backend.ts).
 */
export type ServerSetup =
  | ServerName
  | 'ours-memory'
  | 'ours-plain-sio'
  | 'ours-redis-2'
  /** Two nodes of ours on a three-master Redis Cluster (REDIS_CLUSTER=1; the capacity part). */
  | 'ours-redis-cluster-2'
  | 'ours-workers-2'
  | 'ours-other'
  | 'ours-bans'
  | 'ours-webhooks'
  | 'ours-publish-hook'
  /** Ours with the C100k part's settings, WORKERS among them (c100k-plan.ts). */
  | 'ours-c100k';

export interface Phases {
  /** Epoch ms (Date.now) at which the warm-up starts; all workers share the clock. */
  startAt: number;
  warmupMs: number;
  measureMs: number;
}

export type WorkerRequest =
  /**
   * Opens `count` clients of one kind, at most `concurrency` handshakes at a time, dealt
   * into `rooms` in turn: client i (of this worker) joins rooms[i % rooms.length]. Every
   * worker of a trial gets the same list, so a room's index in it names the room to all.
   * Client i connects from localAddresses[i % length] (the system's choice when absent).
   */
  | { cmd: 'connect'; url: string; kind: ClientKind; count: number; concurrency: number; rooms: string[]; localAddresses?: string[] }
  /** Closed loop: each of the clients `senders` (this worker's indexes) keeps `window` messages in flight. */
  | { cmd: 'fanout'; phases: Phases; senders: number[]; window: number }
  /** Open loop: each of the clients `senders` sends `rate` messages/s; every client records latency. */
  | { cmd: 'latency'; phases: Phases; rate: number; senders: number[] }
  | { cmd: 'counters' }
  | { cmd: 'histogram' }
  /** From now on, note when each client joins and which storm probes it gets (probe-log.ts). */
  | { cmd: 'probe-watch' }
  /** Client `sender` sends a probe (a chat) now and every `intervalMs` until probe-stop. */
  | { cmd: 'probe-start'; sender: number; intervalMs: number }
  /** Stops the probes; replies with their send times (clock.ts `nowUs()`). */
  | { cmd: 'probe-stop' }
  /** Replies with a ProbeTally against the probes sent at `sentUs`. */
  | { cmd: 'probe-tally'; sentUs: number[] }
  /** Replies with the latency of every probe received, as HistogramData. */
  | { cmd: 'probe-latency' };

/** Storm probes owed to a worker's clients (sent after they joined), and how many came. */
export interface ProbeTally {
  expected: number;
  delivered: number;
}

/** One worker's running totals. Times are clock.ts `nowMs()`, comparable across processes. */
export interface Counters {
  /** Chat deliveries received in each phase: before the window, inside it, after it. */
  chats: [number, number, number];
  /**
   * Chat messages that reached a client of another room than the one they were sent to
   * (checked only when the worker's clients are in several rooms); not counted in `chats`.
   */
  misrouted: number;
  notices: number;
  /** Chat messages this worker's senders have sent. */
  sent: number;
  /** When the last notice arrived (0: none yet). */
  lastNoticeAtMs: number;
  open: number;
  /** Unexpected closes and frames of an unknown shape, and the first few of them. */
  errors: number;
  errorSamples: string[];
}

/** Latency samples as sparse histogram buckets (see histogram.ts). */
export interface HistogramData {
  bucketUs: number;
  /** [bucket index, count] pairs, for the non-empty buckets only. */
  buckets: [number, number][];
  count: number;
  maxUs: number;
}

export type ServerRequest =
  | { cmd: 'memory' }
  /** The same from each process of the server side (a primary and its workers): see ProcessReading. */
  | { cmd: 'each-process'; reading: ProcessReadingKind };

/**
 * `memory`: after a full collection, as `memory` above. `loop-start`: event-loop delay
 * recorded from now on (from zero); `loop`: what was recorded since.
 */
export type ProcessReadingKind = 'memory' | 'loop-start' | 'loop';

export interface ProcessReading {
  pid: number;
  memory?: MemoryReading;
  loop?: LoopDelay;
}

/** How late the event loop ran a timer, in ms. */
export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

export interface MemoryReading {
  rss: number;
  /** The V8 heap as reserved: heapUsed plus room V8 has not given back yet. */
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** A server process announces its port once it listens. */
export interface ServerReady {
  ready: true;
  port: number;
  /** The process itself, and the workers it forked (WORKERS > 1). */
  pids: number[];
}

export type BackendRequest = { cmd: 'tally' };

/** The hook backend announces its port once it listens. */
export interface BackendReady {
  port: number;
}

/** What the hook backend has been sent so far. */
export interface BackendTally {
  /** Webhook batches, and the events in them. */
  batches: number;
  events: number;
  /** Publish hook questions (one per message). */
  questions: number;
}

export interface Envelope<T> {
  id: number;
  body: T;
}

export type ReplyEnvelope<T> = { id: number; ok: true; body: T } | { id: number; ok: false; error: string };
