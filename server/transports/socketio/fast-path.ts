import type { Duplex } from 'node:stream';
import { engineWrite, idleTcpSocketOf, replaceWrite, type EngineConnection } from '../../internals/engine-io';
import { FlushPacer } from '../flush-pacer';

// Imports that run for every client of every broadcast, read once: where TypeScript runs
// through tsx (the tests, the bench), each read of an imported binding calls a getter.
const tcpSocketOf = idleTcpSocketOf;
const plainWrite = engineWrite;

/**
 * A broadcast's packet options as socket.io-adapter hands them to each connection: the
 * adapter encodes a broadcast once and, for WebSocket clients, frames it once
 * (`wsPreEncodedFrame`: header and payload).
 */
interface PacketOptions {
  wsPreEncodedFrame?: readonly Buffer[];
  /** This broadcast's place among the frames waiting to be written (see FastFrames). */
  [FRAME_INDEX]?: number;
}

const FRAME_INDEX = Symbol('fast frame index');
/** Where a TCP socket attached to FastFrames keeps its state. */
const FAST_SOCKET = Symbol('fast socket');

/**
 * The fast path: a broadcast goes straight to a WebSocket client's TCP socket instead of
 * through Engine.IO's per-packet path (a packet object, three events, a queue, a flush
 * and a write callback per client per broadcast). The bytes are the same: the adapter's
 * frame is exactly what engine.io would write. docs/socketio-fast-path.md says when it
 * applies and why order is kept.
 *
 * It takes a packet that carries the adapter's frame and no callback, for a connection
 * that is open, on WebSocket, with nothing queued in engine.io, whose `ws` Sender is
 * idle; every other packet takes engine.io's own write, unchanged.
 */
function fastWrite(this: EngineConnection, data: unknown, options?: unknown, callback?: unknown): unknown {
  const frame = (options as PacketOptions | undefined)?.wsPreEncodedFrame;
  if (frame !== undefined && callback === undefined && this.readyState === 'open') {
    const socket = tcpSocketOf(this) as (Duplex & { [FAST_SOCKET]?: FastSocket }) | null;
    const fast = socket?.[FAST_SOCKET];
    if (fast !== undefined && !fast.socket.destroyed) {
      fast.frames.queue(fast, options as PacketOptions, frame);
      return this;
    }
  }
  return plainWrite.call(this, data, options, callback);
}

/** Routes `conn`'s writes through the fast path (for the sockets attached to a FastFrames). */
export function installFastPath(conn: EngineConnection): void {
  replaceWrite(conn, fastWrite);
}

/** One WebSocket client's TCP socket, and the frames waiting for it (their places in FastFrames). */
interface FastSocket {
  readonly socket: Duplex;
  /** The socket's own write, from before TurnCork wrapped it: this path needs no cork (one write per flush). */
  readonly write: (this: Duplex, chunk: Buffer) => boolean;
  readonly frames: FastFrames;
  queued: number[];
}

/**
 * The broadcasts the fast path has taken since the last flush, each framed once, and which
 * of them each client gets. At the flush they are joined into one buffer, and a client
 * that gets a contiguous run of them (in one room with no one left out: nearly always)
 * is written a slice of it, one write and no copy, whatever the number of messages; this
 * is what the raw transport's BroadcastGroup does, for the same reason (one system call
 * per client per turn, and no per-message work per client beyond noting an index).
 * Others get their own frames joined. Flushes are paced like every other (FlushPacer).
 *
 * Order: anything else written to a client's socket (engine.io's packets, ws's pongs and
 * close frames) goes through TurnCork's wrapper, which first writes this client's queued
 * frames (`writeQueued`): the bytes leave in the order the packets were sent.
 */
export class FastFrames {
  private frames: Buffer[] = [];
  private waiting: FastSocket[] = [];
  /**
   * Set by the transport just before it broadcasts a chat message: the flushes that carry
   * one pause as every other flush does, a quarter of their duration.
   */
  chatNext = false;
  private chatQueued = false;
  private chatFlushed = false;
  /**
   * A flush that carried only notices (joins, leaves, typing) pauses for as long as it
   * took, so that a Socket.IO join storm, whose handshakes take several round trips each,
   * still shares writes across joins; one that carried chat pauses a quarter of it, as
   * every other flush does (BENCHMARKS.md measures both).
   */
  private readonly pacer: FlushPacer;

  /** @param now the clock that times flushes (see FlushPacer); tests give one that stands still. */
  constructor(now?: () => number) {
    this.pacer = new FlushPacer(
      () => this.flush(),
      now,
      () => (this.chatFlushed ? 0.25 : 1),
    );
  }

  /** A WebSocket client's TCP socket, as the upgrade handed it to ws, before TurnCork wraps its write. */
  attach(socket: Duplex): FastSocket {
    const fast: FastSocket = { socket, write: socket.write as FastSocket['write'], frames: this, queued: [] };
    (socket as Duplex & { [FAST_SOCKET]?: FastSocket })[FAST_SOCKET] = fast;
    return fast;
  }

  queue(fast: FastSocket, options: PacketOptions, frame: readonly Buffer[]): void {
    // The adapter hands every client of one broadcast the same options object, in one
    // synchronous loop: the first client frames it into the list, the others find it.
    let index = options[FRAME_INDEX];
    if (index === undefined) {
      index = this.frames.push(frame.length === 1 ? (frame[0] as Buffer) : Buffer.concat(frame)) - 1;
      options[FRAME_INDEX] = index;
      if (this.chatNext) this.chatQueued = true;
    }
    if (fast.queued.length === 0) {
      this.waiting.push(fast);
      this.pacer.request();
    }
    fast.queued.push(index);
  }

  /** Writes what is queued for this socket now, before something else is written to it. */
  writeQueued(fast: FastSocket): void {
    const queued = fast.queued;
    if (queued.length === 0) return;
    fast.queued = [];
    for (const index of queued) fast.write.call(fast.socket, this.frames[index] as Buffer);
  }

  private flush(): void {
    const frames = this.frames;
    const waiting = this.waiting;
    this.frames = [];
    this.waiting = [];
    this.chatFlushed = this.chatQueued;
    this.chatQueued = false;
    const starts: number[] = [];
    let total = 0;
    for (const frame of frames) {
      starts.push(total);
      total += frame.length;
    }
    starts.push(total);
    const joined = frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, total);
    for (const fast of waiting) {
      const queued = fast.queued;
      if (queued.length === 0) continue; // written early, by writeQueued
      fast.queued = [];
      if (fast.socket.destroyed) continue;
      const first = queued[0] as number;
      const last = queued[queued.length - 1] as number;
      let bytes: Buffer;
      if (first === last) bytes = frames[first] as Buffer;
      else if (last - first + 1 === queued.length) bytes = joined.subarray(starts[first], starts[last + 1]);
      else bytes = Buffer.concat(queued.map((index) => frames[index] as Buffer));
      fast.write.call(fast.socket, bytes);
    }
  }
}
