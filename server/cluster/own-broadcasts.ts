/**
 * A node's own broadcasts of one namespace, between their script and their return on the
 * namespace's channel, handed to the node's clients when they come back there.
 *
 * Why: a client's recovery offset is the id of the last broadcast it got, so it must get
 * them in the order of the namespace's stream. socket.io-adapter hands a node's own
 * broadcast on when Redis answers its script, on the command connection, and another
 * node's when it arrives on the channel, on the subscribed one: a later broadcast of
 * another node could come first, the client's offset then went back, and a recovery sent
 * it that broadcast again. The channel alone brings a node every broadcast, its own among
 * the others', in the order the scripts ran, on one connection (a Redis Cluster's shard
 * of the channel's slot included).
 *
 * A broadcast whose script fails is handed on at once, without an id, as socket.io-adapter
 * does. One answered but not back on the channel within GRACE_MS (its subscription was
 * being made again after an outage) is handed on then, with its id: late, never lost.
 */

/** How long an answered broadcast waits for the channel. */
export const GRACE_MS = 1_000;

export interface OwnBroadcast<T> {
  /** The broadcast as published: what comes back on the channel after the sender and the id. */
  json: string;
  item: T;
  /** Its id once the script answered; null before. */
  id: string | null;
  answeredAt: number;
}

export class OwnBroadcasts<T> {
  /** In the order sent, which is the order the channel brings them back in. */
  private readonly waiting: OwnBroadcast<T>[] = [];
  private timer: NodeJS.Timeout | null = null;

  /**
   * @param deliver hands a broadcast to this node's clients, with its stream id (null: its
   *   script failed, and it has none).
   */
  constructor(
    private readonly deliver: (item: T, id: string | null) => void,
    private readonly graceMs = GRACE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A broadcast is sent, as `json`; the answer goes to `answered` or `failed` with what this returns. */
  sent(json: string, item: T): OwnBroadcast<T> {
    const waiting: OwnBroadcast<T> = { json, item, id: null, answeredAt: 0 };
    this.waiting.push(waiting);
    return waiting;
  }

  /**
   * One of this node's broadcasts came back on the channel with its id: handed on now. It
   * is the first one waiting, unless scripts before it failed and their errors are not in
   * yet (they are handed on when they are); none is one handed on already (after GRACE_MS).
   */
  heard(json: string, id: string): void {
    const at = this.waiting.findIndex((waiting) => waiting.json === json);
    if (at === -1) return;
    const [waiting] = this.waiting.splice(at, 1) as [OwnBroadcast<T>];
    this.deliver(waiting.item, id);
  }

  answered(broadcast: OwnBroadcast<T>, id: string): void {
    if (!this.waiting.includes(broadcast)) return;
    broadcast.id = id;
    broadcast.answeredAt = this.now();
    this.timer ??= setTimeout(this.overdue, this.graceMs);
  }

  failed(broadcast: OwnBroadcast<T>): void {
    const at = this.waiting.indexOf(broadcast);
    if (at === -1) return;
    this.waiting.splice(at, 1);
    this.deliver(broadcast.item, null);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Those answered GRACE_MS ago and still not back, in order. */
  private readonly overdue = (): void => {
    this.timer = null;
    const due = this.now() - this.graceMs;
    while (this.waiting.length > 0) {
      const first = this.waiting[0] as OwnBroadcast<T>;
      if (first.id === null || first.answeredAt > due) break;
      this.waiting.shift();
      this.deliver(first.item, first.id);
    }
    if (this.waiting.some((waiting) => waiting.id !== null)) this.timer = setTimeout(this.overdue, this.graceMs);
  };
}
