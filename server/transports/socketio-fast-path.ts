import type { Duplex } from 'node:stream';
import { Socket as EngineSocket, transports } from 'engine.io';
import { WebSocket } from 'ws';
import { FlushPacer } from './flush-pacer';

/**
 * A broadcast's packet options as socket.io-adapter hands them to each connection: the
 * adapter encodes a broadcast once and, for WebSocket clients, frames it once
 * (`wsPreEncodedFrame`, built with `ws`'s own `Sender.frame`: header and payload).
 */
interface PacketOptions {
  wsPreEncodedFrame?: readonly Buffer[];
  /** This broadcast's place among the frames waiting to be written (see FastFrames). */
  [FRAME_INDEX]?: number;
}

const FRAME_INDEX = Symbol('fast frame index');
/** Where a TCP socket attached to FastFrames keeps its state. */
const FAST_SOCKET = Symbol('fast socket');

/** The parts of an Engine.IO connection this path reads; none is in engine.io's public types. */
interface EngineConnection {
  readyState: string;
  writeBuffer: unknown[];
  transport: unknown;
  write(data: unknown, options?: unknown, callback?: unknown): unknown;
}

/** What `ws` keeps on a WebSocket that this path reads: its TCP socket and its frame writer. */
interface WsInternals {
  readyState: number;
  _socket: Duplex | null;
  _sender: { _state: number } | undefined;
}

/** `ws`'s Sender state when no message is being compressed or read from a Blob. */
const SENDER_IDLE = 0;
const WS_OPEN = 1;

const plainWrite = EngineSocket.prototype.write as EngineConnection['write'];
/** ws's frame writer; exported by ws, absent from @types/ws. */
const Sender = (WebSocket as unknown as { Sender?: new (socket: object) => { _state?: unknown } }).Sender;
const EngineWebSocketTransport = transports.websocket as unknown as abstract new (...args: never[]) => unknown;

/**
 * Where a broadcast goes straight to a WebSocket client's TCP socket instead of through
 * Engine.IO's per-packet path.
 *
 * Why: for each client of each broadcast engine.io makes a packet object, emits three
 * events, queues it, flushes the queue to the transport, which hands the adapter's
 * pre-built frame to `ws` with a write callback that holds the transport unwritable until
 * it fires; then each packet is its own write. That was most of what a Socket.IO delivery
 * cost: BENCHMARKS.md measures the server with this path on and off. The bytes on the
 * wire are the same either way: the adapter's frame is exactly what engine.io writes.
 *
 * When: only for a packet that carries the adapter's frame, with no callback, to a
 * connection that is open, whose transport is WebSocket, with nothing of engine.io's
 * waiting in its queue, and whose `ws` socket is open with its Sender idle. Everything
 * engine.io wrote before is then already in the TCP socket's buffer, so this frame goes
 * after it, in order; anything written to the socket later first writes the frames still
 * queued here (FastFrames). Every other packet (long-polling clients, a client
 * mid-upgrade, acks, single emits, pings, a client whose queue holds packets) takes
 * engine.io's path, unchanged. What a client has not read is still judged by the
 * slow-consumer rule, which reads the TCP socket's buffer.
 *
 * The internals it relies on are checked once at start-up (`missingInternals`): if one is
 * gone (another engine.io or ws version), the server logs a warning and uses engine.io's
 * path for everything. `SOCKETIO_FAST_PATH=off` does the same on purpose.
 */
export function fastWrite(this: EngineConnection, data: unknown, options?: unknown, callback?: unknown): unknown {
  const frame = (options as PacketOptions | undefined)?.wsPreEncodedFrame;
  if (frame !== undefined && callback === undefined && this.readyState === 'open' && this.writeBuffer.length === 0) {
    const transport = this.transport;
    if (transport instanceof EngineWebSocketTransport) {
      const ws = (transport as unknown as { socket: WsInternals }).socket;
      const socket = ws._socket as (Duplex & { [FAST_SOCKET]?: FastSocket }) | null;
      const fast = socket?.[FAST_SOCKET];
      if (ws.readyState === WS_OPEN && ws._sender?._state === SENDER_IDLE && fast !== undefined && !fast.socket.destroyed) {
        fast.frames.queue(fast, options as PacketOptions, frame);
        return this;
      }
    }
  }
  return plainWrite.call(this, data, options, callback);
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
   * took. In a Socket.IO join storm each join is a notice to every client, and each
   * handshake takes the server several round trips, so few joins arrived during a quarter
   * pause and nearly every join cost a write to every client: 2000 clients joining took
   * 17-19 s that way and 4.9 s with the longer pause (bench/storm-trial.ts, here). Chat
   * keeps the quarter: with one talker a longer pause cut fan-out by a third.
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

/**
 * What the fast path needs that this engine.io and ws do not have, or null when all is
 * there. Checked once, before any client connects.
 */
export function missingInternals(): string | null {
  if (typeof plainWrite !== 'function') return 'engine.io Socket.prototype.write';
  if (typeof EngineWebSocketTransport !== 'function') return 'engine.io WebSocket transport class';
  const transportSend = (EngineWebSocketTransport.prototype as { send?: { toString(): string } }).send;
  // The adapter's frame must be what engine.io itself would write for it.
  if (transportSend === undefined || !transportSend.toString().includes('wsPreEncodedFrame')) {
    return 'engine.io WebSocket transport writing wsPreEncodedFrame';
  }
  if (!String((EngineSocket.prototype as unknown as { sendPacket?: unknown }).sendPacket).includes('writeBuffer')) return 'engine.io Socket.writeBuffer';
  // ws sets these fields in its constructors; a server-side WebSocket without a socket
  // yet and a Sender on nothing are enough to see them.
  const ws = new (WebSocket as unknown as new (address: null, protocols: undefined, options: object) => object)(null, undefined, {});
  if (!('_socket' in ws) || !('_sender' in ws)) return 'ws WebSocket._socket and _sender';
  if (Sender === undefined || new Sender({})._state !== SENDER_IDLE) return 'ws Sender._state';
  return null;
}

/** Routes `conn`'s writes through the fast path (for the sockets attached to a FastFrames). */
export function installFastPath(conn: { write: unknown }): void {
  conn.write = fastWrite;
}
