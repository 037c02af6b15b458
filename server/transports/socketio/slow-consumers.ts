import type { Logger } from 'pino';
import { unsentBytes, webSocketOf } from '../../internals/engine-io';
import type { DrainState, SlowConsumerRule } from '../../session/slow-consumer';
import type { Metrics } from '../../support/metrics';
import { atTurnEnd } from '../../support/turn-end';
import type { EngineConnection } from './server';

/** Read once: it runs for every connection in every turn that broadcasts (see fast-path.ts). */
const pendingBytesOf = unsentBytes;

/**
 * The Socket.IO connections, judged once per turn in which anything was broadcast by the
 * slow-consumer rule from what each has not taken: the packets engine.io still queues for
 * it, and what its TCP socket holds (with the fast path, where a WebSocket client's
 * broadcasts wait while engine.io's transport stays writable). One cut is closed at once;
 * its 'disconnect' then announces the leave, once.
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
  private scheduled = false;

  constructor(
    private readonly rule: SlowConsumerRule,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

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
   * Something was broadcast: the connections are judged at the end of this turn, after
   * the flushes it asked for (atTurnEnd: also when the broadcast came from the store's
   * commit at the end of the turn, where a setImmediate would wait a whole turn).
   */
  afterBroadcast(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    atTurnEnd(this.judgeQueued);
  }

  private readonly judgeQueued = (): void => {
    this.scheduled = false;
    this.judgeAll();
  };

  private judgeAll(): void {
    for (const conn of this.connections) {
      // Closing already (cut in an earlier turn, its 'close' to come).
      if (conn.readyState !== 'open') continue;
      const pending = pendingBytesOf(conn);
      let drain = this.behind.size === 0 ? undefined : this.behind.get(conn);
      if (!this.rule.isBehind(pending)) {
        // Back under the limit: whatever it had, it took.
        if (drain !== undefined) this.behind.delete(conn);
        continue;
      }
      if (drain === undefined) {
        drain = { overSince: 0 };
        this.behind.set(conn, drain);
      }
      if (this.rule.judge(drain, pending) === 'keep') continue;
      this.behind.delete(conn);
      this.metrics.reject('slow_consumer');
      this.logger.info({ transport: 'socket.io', ip: conn.remoteAddress, pending }, 'slow consumer; disconnecting');
      // A close frame would wait behind what the client is not reading: cut the TCP
      // connection (WebSocket), or drop the session (long-polling).
      const ws = webSocketOf(conn);
      if (ws !== null) ws.terminate();
      else conn.close(true);
    }
  }
}
