/**
 * Numbers each node's messages on each room's channel, so that a node hearing them knows
 * when some were lost on the way. Redis pub/sub keeps no message for a subscriber that
 * is not there: on a Redis Cluster, a room's channel moves with its slot when a master
 * is added or taken out, and what is published while the nodes subscribe again on the
 * new master reaches nobody. A node that sees a gap reads the room's stored messages
 * instead (Room.catchUp).
 */

/**
 * Where a message stands in its sender's sequence for its room: `n` counts from 1 within
 * `epoch`, which is new each time the sender starts the room's sequence (the room came
 * into its memory again).
 */
export interface RoomSequence {
  epoch: number;
  n: number;
}

let epochs = 0;

/** This node's sequences, one per room it publishes to. */
export class SentSequences {
  private readonly rooms = new Map<string, RoomSequence>();

  next(room: string): RoomSequence {
    let sequence = this.rooms.get(room);
    if (sequence === undefined) this.rooms.set(room, (sequence = { epoch: (epochs += 1), n: 0 }));
    sequence.n += 1;
    return { epoch: sequence.epoch, n: sequence.n };
  }

  /** Where the room's sequence stands, if this node has published there. */
  last(room: string): RoomSequence | undefined {
    const sequence = this.rooms.get(room);
    return sequence === undefined ? undefined : { epoch: sequence.epoch, n: sequence.n };
  }

  forget(room: string): void {
    this.rooms.delete(room);
  }
}

/** What this node heard of another node's sequences, and the last chat it heard from it in each room. */
export class HeardSequences {
  private readonly rooms = new Map<string, { epoch: number; n: number; lastChat: string | undefined }>();

  /**
   * Notes `sequence` for `room`. Answers null, or when messages before it were lost
   * since the last one heard, the id of the last chat heard from the node in the room
   * before them (undefined if none). The first message heard of a room tells nothing:
   * the room read its stored history once it heard the channel.
   */
  heard(room: string, sequence: RoomSequence): { since: string | undefined } | null {
    const known = this.rooms.get(room);
    if (known === undefined) {
      this.rooms.set(room, { epoch: sequence.epoch, n: sequence.n, lastChat: undefined });
      return null;
    }
    if (sequence.epoch !== known.epoch) {
      known.epoch = sequence.epoch;
      known.n = sequence.n;
      return sequence.n > 1 ? { since: known.lastChat } : null;
    }
    // One that comes late (node-redis sends a publish again after a MOVED, behind later
    // ones): the gap it left was seen when the later one came, and nothing is lost now.
    if (sequence.n <= known.n) return null;
    const lost = sequence.n > known.n + 1;
    known.n = sequence.n;
    return lost ? { since: known.lastChat } : null;
  }

  /**
   * The node's sequence for `room` stands at `sequence` (its presence snapshot): answers,
   * as `heard` does, when messages were lost that no later message showed. A snapshot
   * may pass the room's last message on the way (they go on different channels): that
   * message then comes as expected, not as a gap, and at worst the room reads for nothing.
   */
  behind(room: string, sequence: RoomSequence): { since: string | undefined } | null {
    const known = this.rooms.get(room);
    if (known === undefined || known.epoch !== sequence.epoch || sequence.n <= known.n) return null;
    known.n = sequence.n;
    return { since: known.lastChat };
  }

  chat(room: string, id: string): void {
    const known = this.rooms.get(room);
    if (known !== undefined) known.lastChat = id;
  }

  forget(room: string): void {
    this.rooms.delete(room);
  }
}
