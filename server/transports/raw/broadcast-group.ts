import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { textFrame } from '../../internals/ws';
import type { DrainState, SlowConsumerRule } from '../../session/slow-consumer';
import { FlushPacer } from '../flush-pacer';

/**
 * One receiver: its `ws` object (for the state), the socket the upgrade handed us, and
 * what the slow-consumer rule remembers of it.
 */
export interface GroupMember extends DrainState {
  readonly ws: WebSocket;
  readonly socket: Duplex;
  /** Index into the pending frames of the first frame this member should get; set by `add`. */
  from: number;
}

/**
 * A set of raw WebSocket clients that all receive the same bytes, and the frames
 * published to them during the current event-loop turn.
 *
 * Why not `ws.send()` per client: that frames the message again for every client and
 * writes it with its own system call, so a broadcast costs one call per client per
 * message (BENCHMARKS.md compares the two). Here each message is encoded and framed once,
 * the frames of a turn are joined into one buffer, and each client gets that buffer in a
 * single write at the end of the turn (`atTurnEnd`), so a lone message waits for nothing.
 * Right after an expensive flush the next one waits a little, so that a join storm (one
 * join per turn) or a burst of messages shares writes across turns too (see FlushPacer).
 *
 * Writing to the socket under `ws` is safe because permessage-deflate is off: `ws` then
 * writes its own frames (pong, close) synchronously and whole, so frames never interleave
 * mid-way, and a client whose close handshake began (readyState != OPEN) gets nothing more.
 */
export class BroadcastGroup<Member extends GroupMember = GroupMember> {
  /**
   * @param slowConsumers judges each member from what it has not taken yet, around each
   *   write; a member it cuts is handed to `onSlow` (a client that stopped reading must
   *   not grow server memory) and gets nothing more from this flush.
   * @param now the clock that times flushes (see FlushPacer); tests give one that stands still.
   */
  constructor(
    private readonly slowConsumers: SlowConsumerRule,
    private readonly onSlow: (member: Member) => void,
    now?: () => number,
  ) {
    this.pacer = new FlushPacer(() => this.writePending(), now);
  }

  private readonly members = new Set<Member>();
  private frames: Buffer[] = [];
  private readonly pacer: FlushPacer;

  get size(): number {
    return this.members.size;
  }

  /**
   * A member that joins before the pending frames are written gets only what is
   * published after it joined, so a newcomer never sees messages from before its arrival.
   */
  add(member: Member): void {
    member.from = this.frames.length;
    this.members.add(member);
  }

  delete(member: Member): void {
    this.members.delete(member);
  }

  /** Every member (a kick or a ban looks for its own among them). */
  each(): IterableIterator<Member> {
    return this.members.values();
  }

  /**
   * Queues one text message for every member; it goes out at the end of this turn (see
   * FlushPacer). Returns the number of members it is for.
   */
  publish(text: string): number {
    if (this.members.size === 0) return 0;
    for (const part of textFrame(Buffer.from(text, 'utf8'))) this.frames.push(part);
    this.pacer.request();
    return this.members.size;
  }

  /** Writes everything pending now. Also called before closing clients, so nothing is lost. */
  flush(): void {
    this.pacer.flushNow();
  }

  private writePending(): void {
    const frames = this.frames;
    if (frames.length === 0) return;
    this.frames = [];

    const whole = Buffer.concat(frames);
    // Members that joined since the last flush get a tail of the pending frames: a view
    // of `whole` from the first frame published after they joined, so a join storm with
    // many newcomers between two flushes copies nothing more.
    let starts: number[] | undefined;
    for (const member of this.members) {
      let bytes: Buffer = whole;
      if (member.from > 0) {
        starts ??= frameStarts(frames);
        bytes = whole.subarray(starts[member.from]);
        member.from = 0;
      }
      if (bytes.length === 0 || member.ws.readyState !== WebSocket.OPEN) continue;
      const socket = member.socket;
      // writableLength counts what the kernel has not taken yet: a reader that keeps up
      // leaves it near zero, one that stopped reading makes it grow with every turn.
      // Looked at before the write too (only for members already behind, so the common
      // case costs nothing): what a member took since the last write is its progress.
      if (member.overSince !== 0 && this.slowConsumers.judge(member, socket.writableLength) === 'cut') {
        this.onSlow(member);
        continue;
      }
      socket.write(bytes);
      if (this.slowConsumers.judge(member, socket.writableLength) === 'cut') this.onSlow(member);
    }
  }
}

/** The byte offset of each frame in the frames' concatenation, and the total at the end. */
function frameStarts(frames: readonly Buffer[]): number[] {
  const starts = [0];
  for (const part of frames) starts.push((starts[starts.length - 1] as number) + part.length);
  return starts;
}
