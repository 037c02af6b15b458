/**
 * What this server changes or reads of Node's own objects beyond their public API, in
 * one place, each checked at start (internals/check.ts).
 */
import type { Worker } from 'node:cluster';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A stream's `write`, with the three arguments it takes at most. */
export type WriteFunction = (this: Duplex, chunk: unknown, encoding?: unknown, callback?: unknown) => boolean;

/**
 * Routes every later write of `socket` through `wrap`, which gets the socket's own write
 * to call (with the socket as `this`: nothing is bound per socket). On the instance: the
 * writer (ws's Sender, driven by engine.io) holds the socket and calls `write` on it
 * directly, so no other place sees all of its writes.
 */
export function wrapWrite(socket: Duplex, wrap: (write: WriteFunction) => WriteFunction): void {
  socket.write = wrap(socket.write as WriteFunction) as Duplex['write'];
}

/** net.Socket's libuv handle: not in its public types. */
type Handle = { readStop(): number } | null | undefined;

/**
 * Sticky (WORKERS > 1) hands each connection to a worker by sending its socket over IPC.
 * Node then sets the primary's copy of the handle to discard what it reads (`onread =
 * nop`), but closes it only when the worker acknowledges; until then both processes read
 * the same socket, and whatever the primary reads is lost. A client that answers the
 * worker at once, as socket.io-client does with its namespace connect right after the
 * Engine.IO open packet, lost that packet whenever the primary was slow to get the
 * acknowledgement. So the primary stops reading a socket just before it sends it: what
 * the client sends next stays in the kernel for the worker.
 */
export function stopReadingWhatIsSent(worker: Worker): void {
  const send = worker.send.bind(worker) as (...args: unknown[]) => boolean;
  (worker as { send: (...args: unknown[]) => boolean }).send = (...args: unknown[]) => {
    const handle = args[1];
    if (handle instanceof Socket) (handle as unknown as { _handle?: Handle })._handle?.readStop();
    return send(...args);
  };
}

/** What of the above this Node lacks, or null. */
export function missingNodeInternals(): string | null {
  const socket = new Socket();
  try {
    // A socket not yet connected has `_handle` null; the field itself must be there.
    if (!('_handle' in socket)) return 'net.Socket._handle';
    return null;
  } finally {
    socket.destroy();
  }
}
