import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BusCarrier } from './bus-carrier';

/** What the carrier uses of node-redis: one client publishes, another (subscribed) hears. */
export interface PubSub {
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => unknown): Promise<void>;
  unsubscribe(channel: string, listener: (message: string) => unknown): Promise<void>;
}

/** Every node's channel: presence snapshots, and a node saying it leaves. */
export const NODES_CHANNEL = 'chat:bus';

/** A room's channel: its events, heard by the nodes that hold the room. The hash tag keeps it with the room's keys. */
export function roomChannel(room: string): string {
  return `chat:bus:{${room}}`;
}

/**
 * The bus over Redis pub/sub: each room's events on a channel of its own that only the
 * nodes holding the room subscribe to, so that a node pays nothing for the messages of
 * rooms it does not serve; what every node must hear on one channel. On one Redis, both
 * go out on one connection and are heard on one, so a node's messages arrive in the
 * order sent. On a Redis Cluster a room's channel is sharded (SPUBLISH, SSUBSCRIBE: on
 * the node holding the room's slot, beside its history, so a room's messages stay in
 * order) and the nodes' channel is the cluster's plain pub/sub, which every node of the
 * cluster relays: the two are not in order with each other.
 * Why pub/sub and not a stream: a room's events are live only; what a client missed it
 * gets from the stored history (`?since=`, connection state recovery).
 */
export class RedisBusCarrier implements BusCarrier {
  readonly everyRoom = false;
  private hear: (state: unknown) => void = () => undefined;
  /** Every message goes out as `<this prefix><JSON>`: a node skips its own, which it hears too, without parsing them. */
  private readonly prefix = `${randomUUID()} `;

  /** `rooms`: for the rooms' channels (sharded on a cluster); `nodes`: for the nodes' channel. */
  constructor(
    private readonly rooms: PubSub,
    private readonly nodes: PubSub,
    private readonly logger: Logger,
  ) {}

  /** Hears the nodes' channel; resolves once it does. */
  start(): Promise<void> {
    return this.nodes.subscribe(NODES_CHANNEL, this.received);
  }

  onMessage(hear: (state: unknown) => void): void {
    this.hear = hear;
  }

  everyone(state: object): void {
    this.publish(this.nodes, NODES_CHANNEL, state);
  }

  room(room: string, state: object): void {
    this.publish(this.rooms, roomChannel(room), state);
  }

  listen(room: string): Promise<void> {
    return this.rooms.subscribe(roomChannel(room), this.received).catch((err: unknown) => this.failed('subscribe', room, err));
  }

  unlisten(room: string): void {
    this.rooms.unsubscribe(roomChannel(room), this.received).catch((err: unknown) => this.failed('unsubscribe', room, err));
  }

  private publish(via: PubSub, channel: string, state: object): void {
    via.publish(channel, this.prefix + JSON.stringify(state)).catch((err: unknown) => {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err), channel }, 'cluster bus: not published');
    });
  }

  /** node-redis's listener, for every channel. */
  private readonly received = (message: string): void => {
    if (message.startsWith(this.prefix)) return;
    let state: unknown;
    try {
      state = JSON.parse(message.slice(message.indexOf(' ') + 1));
    } catch {
      this.logger.warn('malformed message on the cluster bus');
      return;
    }
    this.hear(state);
  };

  private failed(what: string, room: string, err: unknown): void {
    this.logger.warn({ err: err instanceof Error ? err.message : String(err), room }, `cluster bus: ${what} failed`);
  }
}
