import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Server } from 'socket.io';
import type { ClusterLink, Hub, HubEvent } from '../room/room';
import type { ChatMessage } from '../protocol';

/** What a node says to the others: who it is, its client count, and maybe an event. */
interface NodeState {
  node: string;
  online: number;
  event?: HubEvent;
}

/** The server-side events of the bus (io.serverSideEmit), received by every other node. */
interface BusEvents {
  'chat:node': (state: NodeState) => void;
}

export interface LinkOptions {
  /** Any Socket.IO server whose adapter reaches the other nodes (Redis or node:cluster). */
  io: Server;
  hub: Hub;
  logger: Logger;
  /** Cluster-wide id (and shared storage) for a new message; see ClusterLink.stamp. */
  stamp: (name: string, text: string) => Promise<ChatMessage>;
  /** False while the other nodes cannot be reached (Redis down): nothing is sent then. */
  connected: () => boolean;
  /** A node not heard from for this long is gone, and its clients no longer count. */
  heartbeatMs: number;
}

/**
 * The bus every node hears: `io.serverSideEmit` through the Socket.IO adapter (a Redis
 * channel, or the primary's IPC with the cluster adapter). Why not override the
 * adapter's `broadcast`: remote broadcasts reach a node through `super.broadcast`, so
 * raw clients would miss them.
 *
 * Socket.IO clients of every node already get each event from the node's own `io.emit`,
 * carried by the adapter; the bus only tells the other hubs, which hand the event to
 * their raw clients (Transport.clusterWide), so nobody gets anything twice.
 *
 * Presence: every event carries the sender's client count, and each node repeats its
 * count three times per heartbeat window. A node not heard from within the window (it
 * died, or Redis is down) stops counting, so its clients are never ghosts for longer.
 */
export class ServerSideLink implements ClusterLink {
  readonly node = randomUUID();
  private readonly io: Server<Record<string, never>, Record<string, never>, BusEvents>;
  private readonly options: LinkOptions;
  private readonly peers = new Map<string, { online: number; heardAt: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(options: LinkOptions) {
    this.options = options;
    this.io = options.io as unknown as Server<Record<string, never>, Record<string, never>, BusEvents>;
    this.io.on('chat:node', (state) => this.hear(state));
    this.timer = setInterval(() => this.send({ node: this.node, online: options.hub.online }), Math.max(options.heartbeatMs / 3, 30));
    this.timer.unref();
  }

  stamp(name: string, text: string): Promise<ChatMessage> {
    return this.options.stamp(name, text);
  }

  publish(event: HubEvent, localOnline: number): void {
    this.send({ node: this.node, online: localOnline, event });
  }

  remoteOnline(): number {
    const oldest = Date.now() - this.options.heartbeatMs;
    let sum = 0;
    for (const [node, peer] of this.peers) {
      if (peer.heardAt < oldest) this.peers.delete(node);
      else sum += peer.online;
    }
    return sum;
  }

  /** Tells the others this node is leaving, so that its clients stop counting at once. */
  close(): void {
    clearInterval(this.timer);
    this.send({ node: this.node, online: 0 });
  }

  private send(state: NodeState): void {
    // While Redis is down the adapter would queue this and deliver it, stale, on return.
    if (!this.options.connected()) return;
    this.io.serverSideEmit('chat:node', state);
  }

  private hear(state: NodeState): void {
    // Only this server's nodes speak on the bus; the check guards against a version skew.
    if (typeof state !== 'object' || state === null || typeof state.node !== 'string' || typeof state.online !== 'number') {
      this.options.logger.warn('malformed message on the cluster bus');
      return;
    }
    this.peers.set(state.node, { online: state.online, heardAt: Date.now() });
    if (state.event !== undefined) this.options.hub.receive(state.event);
  }
}
