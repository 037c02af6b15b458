import { busMessages, type CountedEvent } from '../server/cluster/bus-routes';
import type { RoomEvent } from '../server/room/room-seams';

const chat = (room: string, text: string): CountedEvent => [{ type: 'chat', room, message: { id: '1-0', name: 'ann', text, at: 0 } }, 1];
const join = (room: string, name: string): CountedEvent => [{ type: 'notice', room, notice: { kind: 'join', name, online: 1, at: 0 } } as RoomEvent, 1];

/** Each room's message as `room: texts and names`, then the notices every node counts as `*: names`. */
const shape = (events: CountedEvent[]) => {
  const { rooms, notices } = busMessages(events);
  const names = (some: CountedEvent[]) =>
    some.map(([event]) => (event.type === 'chat' ? event.message.text : event.type === 'notice' ? `+${event.notice.name}` : event.type)).join(' ');
  return [...rooms.map(({ room, events: some }) => `${room}: ${names(some)}`), ...(notices.length > 0 ? [`*: ${names(notices)}`] : [])];
};

describe('a turn of bus events as messages', () => {
  it('sends each room its messages in one message, whatever the other rooms did between', () => {
    expect(shape([chat('a', 'a1'), chat('b', 'b1'), chat('a', 'a2'), chat('b', 'b2')])).toEqual(['a: a1 a2', 'b: b1 b2']);
  });

  it("keeps a room's notices in its message, in order with its chats, and sends the turn's notices to every node once, last", () => {
    expect(shape([chat('a', 'a1'), join('a', 'x'), chat('a', 'a2'), chat('b', 'b1'), join('b', 'y'), chat('c', 'c1')])).toEqual([
      'a: a1 +x a2',
      'b: b1 +y',
      'c: c1',
      '*: +x +y',
    ]);
  });
});
