/**
 * What this server reads of engine.io beyond its public API, in one place, each checked
 * at start (internals/check.ts). Pinned: engine.io 6.6.12 (package.json).
 */
import { Server as EngineServer, Socket as EngineSocket, transports } from 'engine.io';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { SENDER_IDLE, WS_OPEN, type WsInternals } from './ws';

// Read once: idleTcpSocketOf runs for every client of every broadcast, and where TypeScript
// runs through tsx (the tests, the bench) each read of an imported binding calls a getter.
const OPEN = WS_OPEN;
const IDLE = SENDER_IDLE;

/** An Engine.IO connection (socket.io's `socket.conn`). */
export type EngineConnection = EngineSocket;

/** An Engine.IO connection's `write(data, options, callback)`, as its Socket class has it. */
export type EngineWrite = (this: EngineConnection, data: unknown, options?: unknown, callback?: unknown) => unknown;

/** The parts of an Engine.IO connection read here; none is in engine.io's public types. */
interface ConnectionInternals {
  /** Packets waiting for a writable transport. */
  writeBuffer: { data?: unknown }[];
  transport: unknown;
  write: EngineWrite;
}

const internalsOf = (conn: EngineConnection) => conn as unknown as ConnectionInternals;

/** engine.io's own `Socket.prototype.write`, from before any connection's was replaced. */
export const engineWrite = EngineSocket.prototype.write as unknown as EngineWrite;

const EngineWebSocketTransport = transports.websocket as unknown as abstract new (...args: never[]) => unknown;

/** The `ws` socket under `conn` when its transport is WebSocket; null for long-polling (or mid-upgrade). */
export function webSocketOf(conn: EngineConnection): WebSocket | null {
  const transport = internalsOf(conn).transport;
  if (!(transport instanceof EngineWebSocketTransport)) return null;
  return (transport as { socket?: WebSocket }).socket ?? null;
}

/**
 * The TCP socket under `conn` when a frame may be written to it directly: its transport
 * is WebSocket, engine.io holds nothing for it yet, and ws is open with its Sender idle
 * (WsInternals). null otherwise (long-polling, mid-upgrade, packets waiting). Runs for
 * every client of every broadcast: one body, no allocation.
 */
export function idleTcpSocketOf(conn: EngineConnection): Duplex | null {
  // One flat body, no helper calls: this runs inside socket.io-adapter's loop over a
  // room, where V8 inlines one small function more reliably than a chain of them.
  const inner = conn as unknown as ConnectionInternals;
  if (inner.writeBuffer.length !== 0) return null;
  const transport = inner.transport;
  if (!(transport instanceof EngineWebSocketTransport)) return null;
  const ws = (transport as { socket: WsInternals }).socket;
  return ws.readyState === OPEN && ws._sender?._state === IDLE ? ws._socket : null;
}

/**
 * What `conn` has not taken yet, in bytes: the packets engine.io still queues for it,
 * and what its WebSocket's TCP socket holds (ws's public `bufferedAmount`; a long-polling
 * transport has no `socket`). Runs for every connection in every turn that broadcasts:
 * no allocation, no type check.
 */
export function unsentBytes(conn: EngineConnection): number {
  const inner = internalsOf(conn);
  let pending = (inner.transport as { socket?: WebSocket }).socket?.bufferedAmount ?? 0;
  const queued = inner.writeBuffer;
  for (let i = 0; i < queued.length; i += 1) {
    const data = (queued[i] as { data?: unknown }).data;
    if (typeof data === 'string' || Buffer.isBuffer(data)) pending += data.length;
  }
  return pending;
}

/** Routes every later `write` of `conn` through `write` (which calls engineWrite for what it does not take). */
export function replaceWrite(conn: EngineConnection, write: EngineWrite): void {
  internalsOf(conn).write = write;
}

/** engine.io's open session with id `sid`, from its own table (typed protected). */
export function sessionById(engine: EngineServer, sid: string): { close(): void } | undefined {
  return (engine as unknown as { clients: Record<string, { close(): void } | undefined> }).clients[sid];
}

/** The source of the WebSocket transport's `send`, which both checks below read; '' without that class. */
function transportSendSource(): string {
  if (typeof EngineWebSocketTransport !== 'function') return '';
  return String((EngineWebSocketTransport.prototype as { send?: unknown }).send);
}

/** What unsentBytes, webSocketOf and sessionById read that this engine.io lacks, or null (no fallback). */
export function missingEngineInternals(): string | null {
  if (typeof EngineWebSocketTransport !== 'function') return 'engine.io WebSocket transport class';
  const transportSend = transportSendSource();
  if (!transportSend.includes('this.socket')) return 'engine.io WebSocket transport.socket';
  const sendPacket = String((EngineSocket.prototype as unknown as { sendPacket?: unknown }).sendPacket);
  if (!sendPacket.includes('writeBuffer')) return 'engine.io Socket.writeBuffer';
  if (!String((EngineSocket.prototype as unknown as { flush?: unknown }).flush).includes('writeBuffer')) return 'engine.io Socket.flush of writeBuffer';
  const probe = new EngineServer();
  const table = (probe as unknown as { clients?: unknown }).clients;
  probe.close();
  if (typeof table !== 'object' || table === null) return 'engine.io Server.clients';
  return null;
}

/** What the Socket.IO fast path needs besides (engineWrite, a pre-built frame engine.io would write as it is), or null. */
export function missingWriteInternals(): string | null {
  if (typeof engineWrite !== 'function') return 'engine.io Socket.prototype.write';
  // The adapter's pre-built frame must be what engine.io itself would write for it.
  if (!transportSendSource().includes('wsPreEncodedFrame')) return 'engine.io WebSocket transport writing wsPreEncodedFrame';
  return null;
}
