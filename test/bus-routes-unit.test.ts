import { busMessages, type CountedEvent } from '../server/cluster/bus-routes';
import type { RoomEvent } from '../server/room/room-seams';

const chat = (room: string, text: string): CountedEvent => [{ type: 'chat', room, message: { id: '1-0', name: 'ann', text, at: 0 } }, 1];
const join = (room: string, name: string): CountedEvent => [{ type: 'notice', room, notice: { kind: 'join', name, online: 1, at: 0 } } as RoomEvent, 1];

/** Each message as `room: texts and names`, `*` for every node. */
const shape = (events: CountedEvent[]) =>
  busMessages(events).map(
    ({ room, events: some }) =>
      `${room ?? '*'}: ${some.map(([event]) => (event.type === 'chat' ? event.message.text : event.type === 'notice' ? `+${event.notice.name}` : event.type)).join(' ')}`,
  );

describe('a turn of bus events as messages', () => {
  it('sends each room its messages in one message, whatever the other rooms did between', () => {
    expect(shape([chat('a', 'a1'), chat('b', 'b1'), chat('a', 'a2'), chat('b', 'b2')])).toEqual(['a: a1 a2', 'b: b1 b2']);
  });

  it('sends notices to every node, one message for the turn when nothing of their rooms comes between', () => {
    expect(shape([join('a', 'x'), join('b', 'y'), chat('c', 'c1')])).toEqual(['*: +x +y', 'c: c1']);
  });

  it("keeps a room's order across its two destinations", () => {
    expect(shape([chat('a', 'a1'), join('a', 'x'), chat('a', 'a2'), chat('b', 'b1'), join('b', 'y')])).toEqual([
      'a: a1',
      '*: +x',
      'a: a2',
      'b: b1',
      '*: +y',
    ]);
  });
});
