import type { Duplex } from 'node:stream';
import { FlushPacer } from './flush-pacer';

/**
 * Turns every write a socket makes during one event-loop turn into one system call.
 *
 * Why: a broadcast to N clients costs one system call per client per message when each
 * message is written on its own. `io.emit` already encodes and frames a broadcast once,
 * but engine.io writes each packet to each socket with its own `socket.write`, so that
 * per-client call is the cost left to cut (BENCHMARKS.md, "What the numbers rest on",
 * measures the result). A socket attached here is corked by its first write of a turn;
 * one `setImmediate` per turn uncorks every socket corked in it, and Node then hands
 * each socket's pending chunks to the kernel in a single writev.
 * `setImmediate` runs in the check phase of the same loop iteration as the I/O callbacks
 * that wrote, so a lone message goes out in the turn it was written: corking adds no
 * latency, it only stops the kernel from being called once per chunk. Right after an
 * expensive uncork the next one waits a little, so that a join storm (one join per turn)
 * shares writes across turns too (see FlushPacer).
 *
 * Ordering and back-pressure are the stream's own: cork only holds chunks in the
 * socket's buffer in write order, `writableLength` counts them as before, and `end()`
 * uncorks fully on its own. Writes made while uncorking (write callbacks run on the next
 * tick and may write again) cork the socket anew for the next turn, so the loop moves on.
 */
export class TurnCork {
  private releases: (() => void)[] = [];
  private readonly pacer: FlushPacer;

  /** @param now the clock that times flushes (see FlushPacer); tests give one that stands still. */
  constructor(now?: () => number) {
    this.pacer = new FlushPacer(() => {
      const releases = this.releases;
      this.releases = [];
      for (const release of releases) release();
    }, now);
  }

  /**
   * Routes every later write of `socket` through the per-turn cork, calling `beforeWrite`
   * first (the fast path's frames for this socket go out before anything else). The socket's own
   * `write` is wrapped on the instance because the writer (here `ws`'s Sender, which
   * engine.io drives packet by packet) holds the socket and calls `write` on it directly;
   * there is no other place where all of a connection's writes pass.
   */
  attach(socket: Duplex, beforeWrite?: () => void): void {
    const write = socket.write;
    let corked = false;
    const release = (): void => {
      if (!corked) return;
      corked = false;
      socket.uncork();
    };
    // Three named parameters rather than a rest array: this runs once per packet per
    // client, and `write` takes at most three (chunk, encoding or callback, callback).
    socket.write = ((chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
      beforeWrite?.();
      if (!corked) {
        corked = true;
        socket.cork();
        this.releases.push(release);
        this.pacer.request();
      }
      const ok = (write as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean).call(socket, chunk, encoding, callback);
      // Past the socket's high-water mark, send what is held now (later writes of the
      // turn cork anew): a single write of megabytes is more than the kernel takes at
      // once, and what it leaves would look like a client that stopped reading.
      if (socket.writableLength >= socket.writableHighWaterMark) release();
      return ok;
    }) as Duplex['write'];
  }
}
