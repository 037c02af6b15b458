import type { RoomEvent } from '../room/room-seams';

/** An event with its room's client count on the sending node, as the bus sends it. */
export type CountedEvent = [RoomEvent, number];

/** One bus message of a turn, to the nodes holding `room`. */
export interface BusMessage {
  room: string;
  events: CountedEvent[];
}

/**
 * A turn's events as bus messages: each room's events, notices included, in one message
 * to the nodes holding the room, in their order; and the turn's notices again, for every
 * node to count every room's clients from (a node that just began to hold a room has its
 * count right at once). A node holding a room shows its clients a notice from the room's
 * message, in order with the room's chats, and counts it from the other: on a Redis
 * Cluster the two channels are not in order with each other, and a member's first
 * message could otherwise come before its join.
 */
export function busMessages(events: readonly CountedEvent[]): { rooms: BusMessage[]; notices: CountedEvent[] } {
  const rooms = new Map<string, BusMessage>();
  const notices: CountedEvent[] = [];
  for (const counted of events) {
    const [event] = counted;
    const message = rooms.get(event.room);
    if (message === undefined) rooms.set(event.room, { room: event.room, events: [counted] });
    else message.events.push(counted);
    if (event.type === 'notice') notices.push(counted);
  }
  return { rooms: [...rooms.values()], notices };
}
