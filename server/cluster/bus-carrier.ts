import type { Server } from 'socket.io';

/**
 * How the bus between nodes (room-bus.ts) reaches the others: what is sent arrives, in
 * the order sent, at every other node that hears it, as a plain object.
 */
export interface BusCarrier {
  /**
   * True when every node hears every room's events (no per-room subscriptions): a node
   * then brings a room into memory on another node's event, keeping its history when it
   * has no shared store to read it from.
   */
  readonly everyRoom: boolean;
  /** Hands every message from another node to `hear`. */
  onMessage(hear: (state: unknown) => void): void;
  /** To every other node. */
  everyone(state: object): void;
  /** To the other nodes that listen to `room`. */
  room(room: string, state: object): void;
  /** From now on this node hears `room`; resolves once it does. */
  listen(room: string): Promise<void> | undefined;
  /** This node need not hear `room` any more. */
  unlisten(room: string): void;
}

/** The server-side event of the bus, received by every other node. */
const BUS_EVENT = 'chat:node';

/**
 * The bus through the Socket.IO adapter's `serverSideEmit`: the primary's IPC with
 * WORKERS and no Redis, where every worker hears every room (and, with a memory store
 * each, keeps each room's history from the others' events).
 */
export function socketIoCarrier(io: Server): BusCarrier {
  return {
    everyRoom: true,
    onMessage: (hear) => io.on(BUS_EVENT, hear),
    everyone: (state) => io.serverSideEmit(BUS_EVENT, state),
    room: (_room, state) => io.serverSideEmit(BUS_EVENT, state),
    listen: () => undefined,
    unlisten: () => undefined,
  };
}
