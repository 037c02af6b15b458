import type { Logger } from 'pino';
import { History } from './history';
import { MessageIdGenerator } from './message-id';
import { JOIN_TEXT, LEAVE_TEXT, type ChatMessage, type Notice, type NoticeKind } from '../protocol';

/**
 * What the hub needs of a transport: take each stamped message or notice and get it to
 * that transport's own clients. A transport never calls another transport; everything
 * goes through the hub, so every client sees one order of events.
 */
export interface Transport {
  deliverChat(message: ChatMessage): void;
  deliverNotice(notice: Notice): void;
  /**
   * True when this transport's own broadcast already reaches its clients on every node
   * (Socket.IO, through its cluster adapter): events from other nodes then skip it, so
   * its clients never get one twice.
   */
  readonly clusterWide?: boolean;
}

/** What one node tells the others (see ClusterLink). */
export type HubEvent = { type: 'chat'; message: ChatMessage } | { type: 'notice'; notice: Notice };

/**
 * The other nodes, when there are several (server/cluster/link.ts). The hub still
 * publishes each event once; the link carries it to the other nodes' hubs, which hand
 * it to their transports that are not cluster-wide (the raw clients).
 */
export interface ClusterLink {
  /** A new message's cluster-wide id and time (stored where history is shared). Never rejects. */
  stamp(name: string, text: string): Promise<ChatMessage>;
  /** Tells the other nodes about an event of this node, and how many clients this node has. */
  publish(event: HubEvent, localOnline: number): void;
  /** Clients on the other nodes, as last heard within the heartbeat window. */
  remoteOnline(): number;
}

export interface HubOptions {
  historySize: number;
  /** Bytes of message text the history may hold (HISTORY_BYTES); no bound when absent. */
  historyBytes?: number;
  logger: Logger;
  now?: () => number;
}

/**
 * The chat room. It stamps messages (id, time, name), keeps the history, counts who is
 * online across every transport, and publishes each event once to every transport.
 * It knows nothing of sockets.
 */
export class Hub {
  private readonly transports: Transport[] = [];
  private readonly history: History;
  private readonly ids: MessageIdGenerator;
  private readonly logger: Logger;
  private readonly now: () => number;
  private members = 0;
  private quiet = false;
  private cluster: ClusterLink | undefined;
  /** With a cluster link: the last local event in flight; each next one waits for it. */
  private tail: Promise<void> = Promise.resolve();

  constructor(options: HubOptions) {
    this.history = new History(options.historySize, options.historyBytes);
    this.now = options.now ?? Date.now;
    this.ids = new MessageIdGenerator(this.now);
    this.logger = options.logger;
  }

  addTransport(transport: Transport): void {
    this.transports.push(transport);
  }

  /**
   * From now on messages get their ids from the link, events also go to the other nodes,
   * and `online` counts their clients too. `known` is the shared history so far.
   */
  joinCluster(link: ClusterLink, known: readonly ChatMessage[] = []): void {
    this.cluster = link;
    for (const message of known) this.history.add(message);
  }

  /** Clients on this node. */
  get online(): number {
    return this.members;
  }

  /** An event published by another node: its raw clients (and history) are ours to serve. */
  receive(event: HubEvent): void {
    if (event.type === 'chat') this.history.add(event.message);
    else if (this.quiet) return;
    for (const transport of this.transports) {
      if (transport.clusterWide === true) continue;
      if (event.type === 'chat') transport.deliverChat(event.message);
      else transport.deliverNotice(event.notice);
    }
  }

  /** Someone joined through any transport: everyone, the newcomer included, is told. */
  join(name: string): Notice {
    this.members += 1;
    return this.announce('join', JOIN_TEXT, name);
  }

  /** Someone left: everyone still here is told. */
  leave(name: string): Notice {
    this.members -= 1;
    return this.announce('leave', LEAVE_TEXT, name);
  }

  /**
   * Stamps a message that its transport has already checked, hands it to `acknowledge`
   * (so a sender learns its id before the broadcast reaches it), keeps it in the history
   * and delivers it everywhere, sender included.
   */
  post(name: string, text: string, acknowledge?: (message: ChatMessage) => void): void {
    if (this.cluster === undefined) {
      const { id, at } = this.ids.next();
      this.publishChat({ id, text, name, at }, acknowledge);
      return;
    }
    // Stamping is a Redis round trip. The requests are pipelined on one connection, so
    // their answers come back in the order sent; `inOrder` then publishes each only after
    // the one before. One sender's messages therefore leave this node in order, and the
    // link and the adapter each carry them on one ordered channel (a Redis stream or
    // channel, or the IPC pipe), so every node delivers them in that order.
    const stamped = this.cluster.stamp(name, text);
    this.inOrder(() => stamped.then((message) => this.publishChat(message, acknowledge)));
  }

  /** The last messages, oldest first. */
  recent(): ChatMessage[] {
    return this.history.list();
  }

  /** The messages after `id`, oldest first, or null when `id` is unknown or too old. */
  since(id: string): ChatMessage[] | null {
    return this.history.after(id);
  }

  /**
   * From now on joins and leaves still count but are not announced. Used on shutdown:
   * telling each of N departing clients about the N others is quadratic noise that
   * nobody stays to read.
   */
  silenceNotices(): void {
    this.quiet = true;
  }

  private publishChat(message: ChatMessage, acknowledge?: (message: ChatMessage) => void): void {
    acknowledge?.(message);
    this.history.add(message);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ id: message.id, name: message.name, text: message.text }, 'chat');
    for (const transport of this.transports) transport.deliverChat(message);
    this.cluster?.publish({ type: 'chat', message }, this.members);
  }

  private announce(kind: NoticeKind, text: string, name: string): Notice {
    const online = this.members + (this.cluster?.remoteOnline() ?? 0);
    const notice: Notice = { kind, text, name, online, at: this.now() };
    if (this.quiet) return notice;
    const deliver = () => {
      for (const transport of this.transports) transport.deliverNotice(notice);
      this.cluster?.publish({ type: 'notice', notice }, this.members);
    };
    // Behind the messages still being stamped, so that this node's events keep their order.
    if (this.cluster === undefined) deliver();
    else this.inOrder(async () => deliver());
    return notice;
  }

  private inOrder(step: () => Promise<void>): void {
    this.tail = this.tail.then(step).catch((err: unknown) => this.logger.error({ err }, 'publishing an event failed'));
  }
}
