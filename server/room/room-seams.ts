import type { ChatMessage, Notice, ReadMarker } from '../protocol';
import type { ChangeResult, StoreUnavailableError } from '../store/message-store';
import type { PresenceCount } from './presence';

/**
 * What a room talks to besides its store: the transports' clients in it (RoomSink), the
 * other nodes (RoomBus), and the sender of a message (PostOutcome).
 */

/**
 * One transport's clients in one room: takes each stamped message or notice of the room
 * and gets it to them. A sink never calls another sink; everything goes through the
 * room, so every client of the room sees one order of events.
 */
export interface RoomSink {
  chat(message: ChatMessage): void;
  /**
   * `here`: for this node's clients only, even from a cluster-wide sink. Every node tells
   * its own clients of another node's members who came or went without a notice of their own.
   */
  notice(notice: Notice, here?: boolean): void;
  /** A message edited, deleted or reacted to, or someone's read marker (a sink that shows none may leave it out). */
  change?(change: RoomChange): void;
  /**
   * True when this sink's own broadcast already reaches its clients on every node
   * (Socket.IO, through its cluster adapter): events from other nodes then skip it, so
   * its clients never get one twice.
   */
  readonly clusterWide?: boolean;
  /**
   * Ends this node's connections in the room that `match` picks (kick, ban), telling them
   * `reason` (raw: close 4001, or 4003 when `banned`; Socket.IO: `kicked`, then the
   * namespace is disconnected). Answers how many it ended.
   */
  end?(match: (who: Who) => boolean, reason: string, banned: boolean): number;
  /** The room leaves memory: let go of what is held for it. */
  dispose?(): void;
  /**
   * Resolves once this sink hears the room's events from the other nodes (its cluster
   * adapter's subscription): the room reads its stored history after it, as after the bus's.
   */
  readonly ready?: Promise<void>;
}

/** Who a connection in a room is, for moderation: its user (JWT `sub`, else its name) and its address. */
export interface Who {
  user: string;
  ip: string;
}

/** What the room tells of a change (the protocol's `edit`, `delete`, `reaction` and `read` events). */
export type RoomChange = Exclude<ChangeResult, { kind: 'read' }> | ({ kind: 'read' } & ReadMarker);

/** What one node tells the others about a room. */
export type RoomEvent =
  | { type: 'chat'; room: string; message: ChatMessage }
  | { type: 'notice'; room: string; notice: Notice }
  | { type: 'change'; room: string; change: RoomChange }
  /** A moderator's kick: every node ends the user's connections to the room. */
  | { type: 'kick'; room: string; user: string; reason: string };

/**
 * The other nodes, when there are several (server/cluster/room-bus.ts). A room publishes
 * each event once; the bus carries it to the other nodes' rooms of the same name, which
 * hand it to their sinks that are not cluster-wide (the raw clients).
 */
export interface RoomBus {
  /** Tells the other nodes about an event, with who is in the room on this node now. */
  publish(event: RoomEvent, local: PresenceCount): void;
  /** Who is in `room` on each other node, as last heard within the heartbeat window. */
  remote(room: string): Iterable<PresenceCount>;
  /** How many connections `room` has on the other nodes (the sum of `remote`, cheaply). */
  remoteOnline(room: string): number;
  /**
   * `room` came into this node's memory: from now on the other nodes' events of it must
   * reach this node. Resolves once they do; undefined when they always did.
   */
  listen?(room: string): Promise<void> | undefined;
  /** `room` left this node's memory: its events need not reach this node any more. */
  unlisten?(room: string): void;
}

/** What the room tells the sender of a message: its id before anyone receives it, or why it was refused. */
export interface PostOutcome {
  accepted?(message: ChatMessage): void;
  /** The store could not keep it: nobody received it. */
  refused?(error: StoreUnavailableError): void;
}

/** Who set a read marker, as the room's `read` event names them. */
export interface Reader {
  name: string;
  user?: string | undefined;
}

/** The room's event for a change the store made; a read marker names its reader. */
export function changeEventOf(result: ChangeResult, reader: Reader | undefined): RoomChange {
  if (result.kind !== 'read') return result;
  const name = reader?.name ?? result.user;
  return reader?.user === undefined ? { kind: 'read', name, id: result.id } : { kind: 'read', name, user: reader.user, id: result.id };
}

/** The store's result behind a room's change event (a reader is known by `sub`, else by name). */
export function changeResultOf(change: RoomChange): ChangeResult {
  if (change.kind !== 'read') return change;
  return { kind: 'read', id: change.id, user: change.user ?? change.name };
}
