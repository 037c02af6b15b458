import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PresenceCount, type PresenceEntry } from '../room/presence';
import { atTurnEnd } from '../support/turn-end';
import type { RoomBus, RoomEvent } from '../room/room-seams';
import type { Rooms } from '../room/rooms';
import type { BusCarrier } from './bus-carrier';
import { busMessages, type CountedEvent } from './bus-routes';
import { HeardSequences, SentSequences, type RoomSequence } from './room-sequences';

/**
 * What a node says to the others: an event of one of its rooms with that room's client
 * count there, or (on a timer) who is in each of its rooms.
 */
interface NodeState {
  node: string;
  event?: RoomEvent;
  /** With `event`: the room's clients on the sending node, after the event. */
  online?: number;
  /** Several events of one turn, in order, each with its `online` (one event goes as `event`). */
  events?: CountedEvent[];
  /** A turn's notices, to count only: a node holding their room shows them from the room's message (bus-routes.ts). */
  counted?: CountedEvent[];
  /**
   * Every room with clients on the sending node, and who is in it, with where the node's
   * sequence for the room stands when it has published there: a node that heard less of
   * it lost the last messages (room-sequences.ts).
   */
  snapshot?: [string, PresenceEntry[], RoomSequence?][];
  /** On a room's channel: where this message stands in the sender's sequence for the room (room-sequences.ts). */
  seq?: RoomSequence;
}

export interface LinkOptions {
  /** What reaches the other nodes: Redis pub/sub, or the workers' IPC (bus-carrier.ts). */
  carrier: BusCarrier;
  rooms: Rooms;
  logger: Logger;
  /** False while the other nodes cannot be reached (Redis down): nothing is sent then. */
  connected: () => boolean;
  /** A node not heard from for this long is gone, and its clients no longer count. */
  heartbeatMs: number;
  /** Runs a task at the end of this event-loop turn (tests give one they drive). */
  atTurnEnd?: (task: () => void) => void;
}

/** What this node knows of another. */
interface Peer {
  heardAt: number;
  rooms: Map<string, PresenceCount>;
  /** Its sequences on the channels of the rooms this node holds. */
  sequences: HeardSequences;
}

/**
 * The bus between nodes. With Redis each room's messages and changes go on a channel of
 * that room, which only the nodes holding the room hear (listen, when a room comes into
 * memory): a node pays nothing for the messages of rooms it does not serve.
 * With WORKERS and no Redis every worker hears everything, through the primary.
 * Why not override the adapter's `broadcast`: remote broadcasts reach a node through
 * `super.broadcast`, so raw clients would miss them.
 *
 * Socket.IO clients of every node already get each event from the node's own namespace
 * emit, carried by the adapter; the bus only tells the other nodes' rooms, which hand
 * the event to their raw clients (RoomSink.clusterWide), so nobody gets anything twice.
 *
 * Presence: each node sends every node who is in each of its rooms three times per
 * heartbeat window, and every join and leave between (a notice names who came or went;
 * see bus-routes.ts). A node not heard from within the window (it died, or Redis is
 * down) stops counting, so its clients are never ghosts for longer.
 *
 * Clients keep member lists from notices, so whatever changes what this node counts of
 * another without that node's own notice (it went silent, its snapshot differs from the
 * notices heard) is told to this node's clients here, one notice per connection: every
 * node does so for its own clients.
 */
export class ClusterRoomBus implements RoomBus {
  readonly node = randomUUID();
  private readonly carrier: BusCarrier;
  private readonly options: LinkOptions;
  private readonly peers = new Map<string, Peer>();
  private readonly timer: NodeJS.Timeout;
  /** Set for when the peer heard from longest ago goes silent for the window. */
  private expiryTimer: NodeJS.Timeout | undefined;
  /** This turn's events, sent together at its end (see publish). */
  private pending: CountedEvent[] = [];
  private readonly sequences = new SentSequences();
  private readonly atTurnEnd: (task: () => void) => void;

  constructor(options: LinkOptions) {
    this.options = options;
    this.atTurnEnd = options.atTurnEnd ?? atTurnEnd;
    this.carrier = options.carrier;
    this.carrier.onMessage((state: unknown) => this.hear(state as NodeState));
    this.timer = setInterval(() => {
      this.sendPending();
      this.toEveryone({ node: this.node, snapshot: this.snapshot() });
    }, Math.max(options.heartbeatMs / 3, 30));
    this.timer.unref();
  }

  /**
   * Events go out once per event-loop turn, each room's in one bus message. Why: every
   * bus message is a Redis message (or an IPC message) that each node hearing it reads
   * and hands to its room on its own; sent one by one they arrived a few per turn, and
   * each node then wrote each raw client once per few messages instead of once per turn
   * (BENCHMARKS.md, "Several nodes").
   */
  publish(event: RoomEvent, local: PresenceCount): void {
    // While Redis is down the carrier would queue this and deliver it, stale, on return.
    if (!this.options.connected()) return;
    if (this.pending.length === 0) this.atTurnEnd(this.sendPending);
    this.pending.push([event, local.online]);
  }

  listen(room: string): Promise<void> | undefined {
    return this.carrier.listen(room);
  }

  unlisten(room: string): void {
    this.carrier.unlisten(room);
    this.sequences.forget(room);
    for (const peer of this.peers.values()) peer.sequences.forget(room);
  }

  private readonly sendPending = (): void => {
    const events = this.pending;
    if (events.length === 0) return;
    this.pending = [];
    if (!this.options.connected()) return;
    if (this.carrier.everyRoom) {
      this.carrier.everyone(this.stateOf(events));
      return;
    }
    const { rooms, notices } = busMessages(events);
    for (const { room, events: some } of rooms) this.carrier.room(room, { ...this.stateOf(some), seq: this.sequences.next(room) });
    if (notices.length > 0) this.carrier.everyone({ node: this.node, counted: notices });
  };

  /** One event alone keeps the single-event shape. */
  private stateOf(events: CountedEvent[]): NodeState {
    const [only] = events;
    return events.length === 1 && only !== undefined ? { node: this.node, event: only[0], online: only[1] } : { node: this.node, events };
  }

  *remote(room: string): Iterable<PresenceCount> {
    for (const peer of this.freshPeers()) {
      const count = peer.rooms.get(room);
      if (count !== undefined) yield count;
    }
  }

  remoteOnline(room: string): number {
    let sum = 0;
    for (const peer of this.freshPeers()) sum += peer.rooms.get(room)?.online ?? 0;
    return sum;
  }

  /** Tells the others this node is leaving, so that its clients stop counting at once. */
  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.expiryTimer);
    this.sendPending();
    this.toEveryone({ node: this.node, snapshot: [] });
  }

  /** Peers heard from within the window; one past it no longer counts, even before its expiry is handled. */
  private *freshPeers(): Iterable<Peer> {
    const oldest = Date.now() - this.options.heartbeatMs;
    for (const peer of this.peers.values()) if (peer.heardAt >= oldest) yield peer;
  }

  /** Forgets the peers not heard from within the window, telling this node's clients that their clients left. */
  private readonly expireSilent = (): void => {
    this.expiryTimer = undefined;
    const oldest = Date.now() - this.options.heartbeatMs;
    for (const [node, peer] of this.peers) if (peer.heardAt < oldest) this.forget(node, peer);
    this.scheduleExpiry();
  };

  /** A timer for the first moment a peer may go silent for the window, if none is set. */
  private scheduleExpiry(): void {
    if (this.expiryTimer !== undefined) return;
    let first = Infinity;
    for (const peer of this.peers.values()) first = Math.min(first, peer.heardAt);
    if (first === Infinity) return;
    this.expiryTimer = setTimeout(this.expireSilent, Math.max(first + this.options.heartbeatMs + 1 - Date.now(), 0));
    this.expiryTimer.unref();
  }

  /** `peer`'s clients no longer count: this node's clients are told that they left. */
  private forget(node: string, peer: Peer): void {
    this.peers.delete(node);
    let connections = 0;
    for (const [room, count] of peer.rooms) {
      connections += count.online;
      this.tellHere(room, count, undefined);
    }
    if (connections > 0) this.options.logger.info({ node, connections }, 'a node went silent; its clients no longer count');
  }

  /**
   * What this node counted of a peer in `room` went from `before` to `after` without the
   * peer's notices: this node's clients there get a leave per connection gone and a join
   * per connection come, counted as it is now.
   */
  private tellHere(room: string, before: PresenceCount | undefined, after: PresenceCount | undefined): void {
    const here = this.options.rooms.get(room);
    if (here === undefined) return; // not in memory: no clients here to tell
    for (const [name, connections, user] of before?.entries() ?? []) {
      for (let left = after?.connectionsOf(name, user) ?? 0; left < connections; left += 1) here.noticeHere('leave', name, user);
    }
    for (const [name, connections, user] of after?.entries() ?? []) {
      for (let known = before?.connectionsOf(name, user) ?? 0; known < connections; known += 1) here.noticeHere('join', name, user);
    }
  }

  private snapshot(): [string, PresenceEntry[], RoomSequence?][] {
    const rooms: [string, PresenceEntry[], RoomSequence?][] = [];
    for (const room of this.options.rooms.all()) {
      const announced = room.localPresence();
      if (announced.online === 0) continue;
      const sequence = this.sequences.last(room.name);
      rooms.push(sequence === undefined ? [room.name, announced.entries()] : [room.name, announced.entries(), sequence]);
    }
    return rooms;
  }

  private toEveryone(state: NodeState): void {
    // While Redis is down the carrier would queue this and deliver it, stale, on return.
    if (!this.options.connected()) return;
    this.carrier.everyone(state);
  }

  private hear(state: NodeState): void {
    // Only this server's nodes speak on the bus; the check guards against a version skew.
    if (typeof state !== 'object' || state === null || typeof state.node !== 'string') {
      this.options.logger.warn('malformed message on the cluster bus');
      return;
    }
    // A node hears its own rooms' channels too.
    if (state.node === this.node) return;
    const now = Date.now();
    let peer = this.peers.get(state.node);
    if (peer !== undefined && peer.heardAt < now - this.options.heartbeatMs) {
      // Silent for the window, and its expiry not handled yet (a late timer): its clients' leaves go first.
      this.forget(state.node, peer);
      peer = undefined;
    }
    if (peer === undefined) {
      peer = { heardAt: 0, rooms: new Map(), sequences: new HeardSequences() };
      this.peers.set(state.node, peer);
    }
    peer.heardAt = now;
    if (this.expiryTimer === undefined) this.scheduleExpiry();
    if (Array.isArray(state.snapshot)) {
      const before = peer.rooms;
      peer.rooms = new Map(state.snapshot.map(([room, entries]) => [room, PresenceCount.from(entries)]));
      // The snapshot is the whole truth; what the notices had told differently is told now.
      for (const [room, count] of before) this.tellHere(room, count, peer.rooms.get(room));
      for (const [room, count] of peer.rooms) if (!before.has(room)) this.tellHere(room, undefined, count);
      // The peer's last messages of a room may have been lost with none after them to show it.
      for (const [room, , sequence] of state.snapshot) {
        const lost = sequence === undefined ? null : peer.sequences.behind(room, sequence);
        if (lost !== null) this.options.rooms.get(room)?.catchUp(lost.since);
      }
    }
    const events = state.event !== undefined ? [state.event] : Array.isArray(state.events) ? state.events.map(([event]) => event) : [];
    const room = events[0]?.room;
    if (state.seq !== undefined && room !== undefined) {
      // Some of the peer's messages of this room were lost: the room shows the stored ones first.
      const lost = peer.sequences.heard(room, state.seq);
      if (lost !== null) this.options.rooms.get(room)?.catchUp(lost.since);
    }
    for (const event of events) {
      this.receive(peer, event);
      if (event.type === 'chat') peer.sequences.chat(event.room, event.message.id);
    }
    if (Array.isArray(state.counted)) for (const [event] of state.counted) this.count(peer, event);
  }

  /**
   * One event from `peer`'s rooms, for this node's room of that name. Through the
   * workers' bus, which carries everything to everyone once, a notice is counted here
   * too; through Redis it is counted from the turn's `counted` (see busMessages).
   */
  private receive(peer: Peer, event: RoomEvent): void {
    if (this.carrier.everyRoom) {
      this.count(peer, event);
      this.options.rooms.receive(event);
    } else this.options.rooms.get(event.room)?.receive(event);
  }

  /** Who came or went on `peer`, if `event` is a notice, until its next snapshot says it all again. */
  private count(peer: Peer, event: RoomEvent): void {
    if (event.type !== 'notice') return;
    let count = peer.rooms.get(event.room);
    if (count === undefined) peer.rooms.set(event.room, (count = new PresenceCount()));
    const { name, user } = event.notice;
    const who = typeof user === 'string' ? user : undefined;
    if (event.notice.kind === 'join') count.add(name, who);
    else count.remove(name, who);
  }
}
