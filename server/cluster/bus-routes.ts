import type { RoomEvent } from '../room/room-seams';

/** An event with its room's client count on the sending node, as the bus sends it. */
export type CountedEvent = [RoomEvent, number];

/** One bus message of a turn: to the nodes holding `room`, or (no room) to every node. */
export interface BusMessage {
  room?: string;
  events: CountedEvent[];
}

/**
 * A turn's events as bus messages. Notices go to every node, which counts every room's
 * clients from them (a node that just began to hold a room has its count right at once);
 * the rest to the nodes holding the room. Each room's events stay in their order across
 * the messages (which go out in this order, on one connection), and otherwise each
 * destination gets one message: a busy room, one per turn.
 */
export function busMessages(events: readonly CountedEvent[]): BusMessage[] {
  const messages: BusMessage[] = [];
  /** The message each destination adds to (a room's name, or '' for every node). */
  const open = new Map<string, number>();
  /** The message holding each room's latest event: its next one may not go before it. */
  const latest = new Map<string, number>();
  for (const counted of events) {
    const [event] = counted;
    const everyone = event.type === 'notice';
    const destination = everyone ? '' : event.room;
    let index = open.get(destination) ?? -1;
    if (index === -1 || index < (latest.get(event.room) ?? -1)) {
      index = messages.push(everyone ? { events: [] } : { room: event.room, events: [] }) - 1;
      open.set(destination, index);
    }
    (messages[index] as BusMessage).events.push(counted);
    latest.set(event.room, index);
  }
  return messages;
}
