import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BusCarrier } from './bus-carrier';

/** What the carrier uses of a node-redis client. */
export interface PubSubClient {
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
 * rooms it does not serve; what every node must hear on one channel. Both are published
 * on one connection and heard on one, so a node's messages arrive in the order sent.
 * Why pub/sub and not a stream: a room's events are live only; what a client missed it
 * gets from the stored history (`?since=`, connection state recovery).
 */
export class RedisBusCarrier implements BusCarrier {
  readonly everyRoom = false;
  private hear: (state: unknown) => void = () => undefined;
  /** Every message goes out as `<this prefix><JSON>`: a node skips its own, which it hears too, without parsing them. */
  private readonly prefix = `${randomUUID()} `;

  constructor(
    private readonly publisher: PubSubClient,
    private readonly subscriber: PubSubClient,
    private readonly logger: Logger,
  ) {}

  /** Hears the nodes' channel; resolves once it does. */
  start(): Promise<void> {
    return this.subscriber.subscribe(NODES_CHANNEL, this.received);
  }

  onMessage(hear: (state: unknown) => void): void {
    this.hear = hear;
  }

  everyone(state: object): void {
    this.publish(NODES_CHANNEL, state);
  }

  room(room: string, state: object): void {
    this.publish(roomChannel(room), state);
  }

  listen(room: string): Promise<void> {
    return this.subscriber.subscribe(roomChannel(room), this.received).catch((err: unknown) => this.failed('subscribe', room, err));
  }

  unlisten(room: string): void {
    this.subscriber.unsubscribe(roomChannel(room), this.received).catch((err: unknown) => this.failed('unsubscribe', room, err));
  }

  private publish(channel: string, state: object): void {
    this.publisher.publish(channel, this.prefix + JSON.stringify(state)).catch((err: unknown) => {
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
