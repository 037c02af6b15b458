import type { Identity } from '../access/jwt';
import type { Ticket } from '../access/admission';
import { MAX_ROOMS_PER_CONNECTION, RoomError, type RoomErrorCode } from '../protocol';
import type { Budget } from '../room/flood-control';
import type { Room } from '../room/room';
import type { TransportName } from '../support/metrics';
import { Member, type MemberConnection, type MemberWire } from './member';
import type { SessionServices } from './services';

/** Why a connection may not be in one more room: the Socket.IO `connect_error`, raw's 503. */
export interface RoomRefusal {
  readonly error: RoomErrorCode;
}

export function isRoomRefusal(answer: Room | RoomRefusal): answer is RoomRefusal {
  return 'error' in answer;
}

const TOO_MANY_ROOMS: RoomRefusal = { error: RoomError.TooManyRooms };
const ROOM_LIMIT: RoomRefusal = { error: RoomError.RoomLimit };

/**
 * One client connection, whatever its wire: its place in the connection counts (the
 * admission ticket), its flood budget (one for everything it does, in every room), and
 * the rooms it is in or joining (at most MAX_ROOMS_PER_CONNECTION). A raw connection is in
 * one room; a Socket.IO connection in one per namespace it joins.
 */
export class Session implements MemberConnection {
  /**
   * Opened with its first member: a handshake that never gets into a room (refused, or an
   * Engine.IO connection that joins no namespace) takes no part of its address's budget.
   */
  budget: Budget | null = null;
  private budgetOpened = false;
  /** Rooms it is in or joining: counted when claimed, so that many joins at once cannot pass the limit together. */
  private rooms = 0;
  private closed = false;

  constructor(
    readonly services: SessionServices,
    readonly ticket: Ticket,
    readonly transport: TransportName,
  ) {}

  get ip(): string {
    return this.ticket.ip;
  }

  /**
   * A room this connection may now be in: counted against MAX_ROOMS_PER_CONNECTION from
   * now on (give it back with `leaveRoom`), and brought into memory (or refused: the node
   * holds MAX_ROOMS rooms, all with clients).
   */
  claimRoom(name: string): Room | RoomRefusal {
    const { metrics, logger, rooms } = this.services;
    if (this.rooms >= MAX_ROOMS_PER_CONNECTION) {
      metrics.reject('room_limit');
      return TOO_MANY_ROOMS;
    }
    const room = rooms.open(name);
    if (room === null) {
      metrics.reject('room_limit');
      logger.info({ transport: this.transport, ip: this.ip, room: name }, 'refused: room limit');
      return ROOM_LIMIT;
    }
    this.rooms += 1;
    return room;
  }

  /**
   * Its member in `room` (claimed already), as `identity` (null without JWT: then named by
   * `requestedName`, cleaned), through `wire`; it enters once the wire holds it
   * (`Member.enter`). Past its token check: the connection keeps its place in the counts
   * until it closes.
   */
  member(room: Room, identity: Identity | null, requestedName: unknown, wire: MemberWire): Member {
    this.services.admission.prove(this.ticket);
    if (!this.budgetOpened) {
      this.budgetOpened = true;
      this.budget = this.services.floodControl.open(this.ticket.ip);
    }
    return new Member(this, room, identity, requestedName, wire);
  }

  /** One room claimed is no longer held (left, or its join refused further on). */
  leaveRoom(): void {
    this.rooms = Math.max(0, this.rooms - 1);
  }

  /** How many rooms it is in or joining. */
  get roomCount(): number {
    return this.rooms;
  }

  /** The connection is gone: its place and what is left of its budget go back. Once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.services.admission.release(this.ticket);
    this.services.floodControl.close(this.budget);
  }
}
