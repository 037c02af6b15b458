/**
 * Connection state recovery on one namespace of one node, around the read of the
 * namespace's stream. Socket.IO puts a recovering socket in its rooms only once the
 * adapter's restoreSession answers, and the stream is read on the command connection
 * while the channel comes on the subscribed one, so an entry may come:
 * - on the channel before the read's answer, stored after the read: no socket got it and
 *   the read has not got it either. What the channel brings while a recovery reads is
 *   kept for it (`reading`), and it adds what is newer than what it read.
 * - on the channel after the read's answer, stored before the read: the socket, in its
 *   rooms by then, would get it twice. A recovered socket's last entry is kept
 *   (`recovered`) until the channel brings one past it.
 */
import { compareIds } from '../store/message-id';

/** A namespace's stream entry: its id and the message as stored. */
export interface StreamEntry {
  readonly id: string;
  readonly json: string;
}

export class Recoveries {
  private readonly reading = new Set<StreamEntry[]>();
  /** Each socket just recovered, with the last entry its recovery gave it. */
  private readonly recoveredTo = new Map<string, string>();

  /** A recovery begins to read: what the channel brings until `end` is added to the list answered. */
  begin(): StreamEntry[] {
    const heard: StreamEntry[] = [];
    this.reading.add(heard);
    return heard;
  }

  end(heard: StreamEntry[]): void {
    this.reading.delete(heard);
  }

  /** An entry came on the channel. */
  heard(id: string, json: string): void {
    if (this.reading.size === 0) return;
    const entry = { id, json };
    for (const heard of this.reading) heard.push(entry);
  }

  /** Socket `sid` was recovered up to entry `lastId`. */
  recovered(sid: string, lastId: string): void {
    this.recoveredTo.set(sid, lastId);
  }

  forget(sid: string): void {
    this.recoveredTo.delete(sid);
  }

  /**
   * The sockets whose recovery gave them entry `id` already. Those recovered before it
   * are forgotten: the channel brings the stream's entries in order.
   */
  gotFromRecovery(id: string): string[] {
    if (this.recoveredTo.size === 0) return [];
    const got: string[] = [];
    for (const [sid, lastId] of this.recoveredTo) {
      if (compareIds(id, lastId) <= 0) got.push(sid);
      else this.recoveredTo.delete(sid);
    }
    return got;
  }
}
