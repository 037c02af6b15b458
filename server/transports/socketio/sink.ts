import { dropChildNamespace, existingNamespace } from '../../internals/socket-io';
import { DEFAULT_ROOM, type ChatMessage, type Notice } from '../../protocol';
import type { RoomChange, RoomSink, Who } from '../../room/room-seams';
import { plainIp } from '../../support/ip';
import type { Metrics } from '../../support/metrics';
import type { FastFrames } from './fast-path';
import { namespacesOf, type ChatNamespace, type ChatServer, type EngineConnection, type ParentNamespace } from './server';

export interface RoomNamespacesOptions {
  io: ChatServer;
  /** The dynamic namespace every room but the lobby's `/` is a child of. */
  roomNamespaces: ParentNamespace;
  /** True while other nodes cannot be reached (Redis down): emit to this node's clients only. */
  localOnly: () => boolean;
  /**
   * True when other nodes may have Socket.IO clients in a room that this node has none
   * in: a room's broadcast then goes through its namespace's adapter even so.
   */
  clustered: boolean;
  fastFrames: FastFrames | null;
  metrics: Metrics;
  /** After each broadcast, with the namespace broadcast to (the slow-consumer check of the turn). */
  afterBroadcast: (audience: ChatNamespace) => void;
  /** A connection's client address (access/client-address.ts), for bans by `ip`. */
  addressOf: (conn: EngineConnection) => string;
}

/**
 * The Socket.IO part of each room: its namespace (two for the lobby), which `nsp.emit`
 * broadcasts to on every node through the adapter. A room's namespace exists where it
 * has Socket.IO clients; with several nodes it is made if need be, since other nodes'
 * clients are reached through it.
 */
export class RoomNamespaces {
  constructor(private readonly options: RoomNamespacesOptions) {}

  /** The Socket.IO part of a room coming into memory. */
  sinkFor(room: string): RoomSink {
    const names = namespacesOf(room);
    return {
      // With several nodes the room's namespaces are made now, and the room waits until
      // their adapters hear the other nodes (an adapter without `ready` always does).
      ...(this.options.clustered ? { ready: this.heard(names) } : {}),
      // `nsp.emit` reaches every node's Socket.IO clients through the adapter.
      clusterWide: true,
      chat: (message) => this.emit(names, 'chat', message),
      notice: (notice, here) => (here === true ? this.noticeHere(names, notice) : this.emit(names, 'notice', notice)),
      change: (change) => this.emitChange(names, change),
      end: (match, reason) => this.end(room, names, match, reason),
      dispose: () => this.forget(room),
    };
  }

  private emit(names: readonly string[], event: 'chat' | 'notice', payload: ChatMessage | Notice): void {
    const { fastFrames, localOnly } = this.options;
    let count = 0;
    for (const name of names) {
      const namespace = this.namespace(name);
      if (namespace === undefined) continue;
      if (fastFrames !== null) fastFrames.chatNext = event === 'chat';
      // The adapter would hold a broadcast until Redis answers: during an outage local
      // clients would get nothing.
      (localOnly() ? namespace.local : namespace).emit(event, payload as ChatMessage & Notice);
      if (fastFrames !== null) fastFrames.chatNext = false;
      count += this.reached(namespace);
    }
    this.delivered(count);
  }

  /** `edit`, `delete`, `reaction` or `read`: the change's kind is the event's name. */
  private emitChange(names: readonly string[], change: RoomChange): void {
    const { kind, ...payload } = change;
    let count = 0;
    for (const name of names) {
      const namespace = this.namespace(name);
      if (namespace === undefined) continue;
      const emitter = this.options.localOnly() ? namespace.local : namespace;
      // One event name per kind; the payload is that event's (protocol.ts ServerToClientEvents).
      (emitter.emit as (event: string, payload: unknown) => boolean)(kind, payload);
      count += this.reached(namespace);
    }
    this.delivered(count);
  }

  /** A kick or a ban: this node's sockets it picks hear `kicked`, then leave the room's namespace. */
  private end(room: string, names: readonly string[], match: (who: Who) => boolean, reason: string): number {
    let ended = 0;
    for (const name of names) {
      const namespace = existingNamespace<ChatNamespace>(this.options.io, name);
      if (namespace === undefined) continue;
      for (const socket of [...namespace.sockets.values()]) {
        const user = socket.data.identity?.sub ?? socket.data.name ?? '';
        if (!match({ user, ip: plainIp(this.options.addressOf(socket.conn)) })) continue;
        // To this node's socket at once: with connection state recovery on (Redis), a plain
        // socket.emit waits for the adapter, and would arrive after the disconnect.
        namespace.local.to(socket.id).emit('kicked', { room, reason });
        socket.disconnect();
        ended += 1;
      }
    }
    return ended;
  }

  /** A notice for this node's Socket.IO clients of the room only (see RoomSink.notice). */
  private noticeHere(names: readonly string[], notice: Notice): void {
    let count = 0;
    for (const name of names) {
      const namespace = existingNamespace<ChatNamespace>(this.options.io, name);
      if (namespace === undefined) continue;
      namespace.local.emit('notice', notice);
      count += this.reached(namespace);
    }
    this.delivered(count);
  }

  private delivered(count: number): void {
    this.options.metrics.delivered('socket.io', count);
  }

  /** A broadcast went to `namespace`: its sockets here are judged at the end of the turn. Answers how many. */
  private reached(namespace: ChatNamespace): number {
    const size = namespace.sockets.size;
    if (size > 0) this.options.afterBroadcast(namespace);
    return size;
  }

  private heard(names: readonly string[]): Promise<void> {
    const adapters = names.map((name) => this.namespace(name)?.adapter as { ready?: Promise<void> } | undefined);
    return Promise.all(adapters.map((adapter) => adapter?.ready)).then(() => undefined);
  }

  private namespace(name: string): ChatNamespace | undefined {
    const existing = existingNamespace<ChatNamespace>(this.options.io, name);
    if (existing !== undefined || !this.options.clustered) return existing;
    return this.options.roomNamespaces.createChild(name);
  }

  /** A room left memory: a namespace made for it that nobody joined goes too. */
  private forget(room: string): void {
    if (room === DEFAULT_ROOM) return;
    const { io, roomNamespaces } = this.options;
    const namespace = existingNamespace<ChatNamespace>(io, `/${room}`);
    if (namespace === undefined || namespace.sockets.size > 0) return;
    dropChildNamespace(io, roomNamespaces, namespace);
  }
}
