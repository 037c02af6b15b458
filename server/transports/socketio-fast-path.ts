import type { Duplex } from 'node:stream';
import { Socket as EngineSocket, transports } from 'engine.io';
import { WebSocket } from 'ws';

/**
 * A broadcast's packet options as socket.io-adapter hands them to each connection: the
 * adapter encodes a broadcast once and, for WebSocket clients, frames it once
 * (`wsPreEncodedFrame`, built with `ws`'s own `Sender.frame`: header and payload).
 */
interface PacketOptions {
  wsPreEncodedFrame?: readonly Buffer[];
  [JOINED]?: Buffer;
}

/** The frame's header and payload as one buffer, made by the first connection that writes it. */
const JOINED = Symbol('joined frame');

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
 * it fires. That is most of what a Socket.IO delivery costs here: with one talker the
 * server spent 3.3-4.1 us per delivery, raw clients 0.9-1.0 us (BENCHMARKS.md). The bytes
 * on the wire are the same either way: the adapter's frame is exactly what engine.io
 * would write.
 *
 * When: only for a packet that carries the adapter's frame, with no callback, to a
 * connection that is open, whose transport is WebSocket, with nothing of engine.io's
 * waiting in its queue, and whose `ws` socket is open with its Sender idle. Everything
 * engine.io wrote before is then already in the TCP socket's buffer, so this write goes
 * after it, in order; anything engine.io writes later goes after this one. Every other
 * packet (long-polling clients, a client mid-upgrade, acks, single emits, pings, a client
 * whose queue holds packets) takes engine.io's path, unchanged. The socket's writes still
 * go through TurnCork (one system call per turn), and what a client has not read is
 * still judged by the slow-consumer rule, which reads the TCP socket's buffer.
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
      const socket = ws._socket;
      if (ws.readyState === WS_OPEN && ws._sender?._state === SENDER_IDLE && socket !== null && socket.writable) {
        const packetOptions = options as PacketOptions;
        // One buffer per broadcast, one write per client: half the writes of header + payload.
        const bytes = (packetOptions[JOINED] ??= frame.length === 1 ? (frame[0] as Buffer) : Buffer.concat(frame));
        socket.write(bytes);
        return this;
      }
    }
  }
  return plainWrite.call(this, data, options, callback);
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

/** Routes `conn`'s writes through the fast path. */
export function installFastPath(conn: { write: unknown }): void {
  conn.write = fastWrite;
}
