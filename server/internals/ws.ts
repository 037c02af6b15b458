/**
 * What this server reads of `ws` beyond its public API, in one place, each checked at
 * start (internals/check.ts). Pinned: ws 8.23.0 (package.json).
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';

type FrameOptions = { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean };

/** ws's frame builder (`Sender.frame`), exported by ws but absent from @types/ws. */
const Sender = (WebSocket as unknown as { Sender?: { frame?: (data: Buffer, options: FrameOptions) => Buffer[] } & (new (socket: object) => { _state?: unknown }) }).Sender;

const TEXT_FRAME: FrameOptions = { fin: true, rsv1: false, opcode: 0x1, mask: false, readOnly: false };

/**
 * A server text frame (header and payload) for `data`, built by ws itself, as
 * socket.io-adapter does to frame a broadcast once (https://github.com/websockets/ws/issues/617).
 */
export function textFrame(data: Buffer): Buffer[] {
  return (Sender?.frame as (data: Buffer, options: FrameOptions) => Buffer[])(data, TEXT_FRAME);
}

/** ws's Sender state when no message is being compressed or read from a Blob. */
export const SENDER_IDLE = 0;
export const WS_OPEN = WebSocket.OPEN;

/**
 * What ws keeps on a WebSocket: its TCP socket and its frame writer. A frame written
 * to `_socket` directly lands between two of ws's own only while the WebSocket is open
 * and its Sender idle (nothing half-written, nothing being compressed).
 */
export interface WsInternals {
  readyState: number;
  _socket: Duplex | null;
  _sender: { _state: number } | undefined;
}

/** Whether this ws has its frame builder (no fallback: raw broadcasts are framed by it). */
export function missingFrameBuilder(): string | null {
  return typeof Sender?.frame === 'function' ? null : 'ws Sender.frame';
}

/** What the fast path reads of WsInternals that this ws lacks, or null. */
export function missingIdleSocketInternals(): string | null {
  if (Sender === undefined) return 'ws Sender';
  // ws sets these fields in its constructors; a server-side WebSocket without a socket
  // yet and a Sender on nothing are enough to see them.
  const ws = new (WebSocket as unknown as new (address: null, protocols: undefined, options: object) => object)(null, undefined, {});
  if (!('_socket' in ws) || !('_sender' in ws)) return 'ws WebSocket._socket and _sender';
  if (new Sender({})._state !== SENDER_IDLE) return 'ws Sender._state';
  return null;
}
