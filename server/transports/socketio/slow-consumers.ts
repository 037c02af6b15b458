import type { Logger } from 'pino';
import { unsentBytes, webSocketOf } from '../../internals/engine-io';
import type { DrainState, SlowConsumerRule } from '../../session/slow-consumer';
import type { Metrics } from '../../support/metrics';
import { atTurnEnd } from '../../support/turn-end';
import type { EngineConnection } from './server';

/** Read once: it runs for every connection a broadcast reaches (see fast-path.ts). */
const pendingBytesOf = unsentBytes;

/** How often every connection is judged, whatever was broadcast. */
const SWEEP_MS = 1000;

/** What a room's broadcast went to: its namespace's sockets on this node. */
export interface Audience {
  readonly sockets: ReadonlyMap<string, { readonly conn: EngineConnection }>;
}

/**
 * The Socket.IO connections, judged by the slow-consumer rule from what each has not
 * taken: the packets engine.io still queues for it, and what its TCP socket holds (with
 * the fast path, where a WebSocket client's broadcasts wait while engine.io's transport
 * stays writable). Judged at the end of each turn that broadcast to them: the connections
 * of the rooms written to, and those already behind. So a message costs a look at its own
 * room, not at every connection of the node. A sweep of all of them every SWEEP_MS
 * catches what reached them another way (another node's broadcast, through the adapter).
 * One cut is closed at once; its 'disconnect' then announces the leave, once.
 */
export class SlowConnections {
  /**
   * Every open Engine.IO connection. A Set iterates fast, where engine.io's own table is
   * an object keyed by session id: this walk runs every turn that broadcasts.
   */
  private readonly connections = new Set<EngineConnection>();
  /**
   * What the rule remembers of the connections that are behind now: few, so the many
   * that keep up cost no lookup at all.
   */
  private readonly behind = new Map<EngineConnection, DrainState>();
  /** The audiences broadcast to in this turn, judged at its end. */
  private readonly touched = new Set<Audience>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly rule: SlowConsumerRule,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** A connection's client address (access/client-address.ts), for the log. */
    private readonly addressOf: (conn: EngineConnection) => string,
  ) {
    this.sweeper = setInterval(() => this.judgeEach(this.connections.values()), SWEEP_MS);
    this.sweeper.unref();
  }

  add(conn: EngineConnection): void {
    this.connections.add(conn);
    conn.once('close', () => {
      this.connections.delete(conn);
      this.behind.delete(conn);
    });
  }

  /** All of them, for shutdown. */
  all(): IterableIterator<EngineConnection> {
    return this.connections.values();
  }

  /**
   * `audience` was broadcast to: its connections are judged at the end of this turn,
   * after the flushes it asked for (atTurnEnd: also when the broadcast came from the
   * store's commit at the end of the turn, where a setImmediate would wait a whole turn).
   */
  afterBroadcast(audience: Audience): void {
    if (this.touched.has(audience)) return;
    if (this.touched.size === 0) atTurnEnd(this.judgeTouched);
    this.touched.add(audience);
  }

  /** No more sweeps (the server is closing). */
  stop(): void {
    clearInterval(this.sweeper);
  }

  private readonly judgeTouched = (): void => {
    for (const audience of this.touched) {
      for (const socket of audience.sockets.values()) this.judge(socket.conn);
    }
    this.touched.clear();
    // Behind and not written to since: still judged, so that the grace runs out.
    if (this.behind.size > 0) this.judgeEach([...this.behind.keys()]);
  };

  private judgeEach(connections: Iterable<EngineConnection>): void {
    for (const conn of connections) this.judge(conn);
  }

  private judge(conn: EngineConnection): void {
    // Closing already (cut earlier, its 'close' to come).
    if (conn.readyState !== 'open') return;
    const pending = pendingBytesOf(conn);
    let drain = this.behind.size === 0 ? undefined : this.behind.get(conn);
    if (!this.rule.isBehind(pending)) {
      // Back under the limit: whatever it had, it took.
      if (drain !== undefined) this.behind.delete(conn);
      return;
    }
    if (drain === undefined) {
      drain = { overSince: 0 };
      this.behind.set(conn, drain);
    }
    if (this.rule.judge(drain, pending) === 'keep') return;
    this.behind.delete(conn);
    this.metrics.reject('slow_consumer');
    this.logger.info({ transport: 'socket.io', ip: this.addressOf(conn), pending }, 'slow consumer; disconnecting');
    // A close frame would wait behind what the client is not reading: cut the TCP
    // connection (WebSocket), or drop the session (long-polling).
    const ws = webSocketOf(conn);
    if (ws !== null) ws.terminate();
    else conn.close(true);
  }
}
