import type { Duplex } from 'node:stream';
import { wrapWrite, type WriteFunction } from '../../internals/node';
import { FlushPacer } from '../flush-pacer';

/**
 * Turns every write a socket makes during one event-loop turn into one system call:
 * engine.io writes each packet to each client with its own `socket.write`, so a broadcast
 * to N clients would cost N calls per message.
 *
 * A socket attached here is corked by its first write of a turn, and uncorked at the end
 * of the turn (FlushPacer), so a lone message still leaves in the turn it was written.
 * Order and back-pressure are the stream's own: cork only holds chunks in write order,
 * and `writableLength` counts them as before.
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
   * first (the fast path's frames for this socket go out before anything else).
   */
  attach(socket: Duplex, beforeWrite?: () => void): void {
    let corked = false;
    const release = (): void => {
      if (!corked) return;
      corked = false;
      socket.uncork();
    };
    wrapWrite(socket, (write: WriteFunction): WriteFunction => (chunk, encoding, callback) => {
      beforeWrite?.();
      if (!corked) {
        corked = true;
        socket.cork();
        this.releases.push(release);
        this.pacer.request();
      }
      const ok = write.call(socket, chunk, encoding, callback);
      // Past the socket's high-water mark, send what is held now: a single write of
      // megabytes is more than the kernel takes at once, and what it leaves would look
      // like a client that stopped reading.
      if (socket.writableLength >= socket.writableHighWaterMark) release();
      return ok;
    });
  }
}
