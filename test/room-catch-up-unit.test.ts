/**
 * Catching up after the bus lost another node's messages of a room, with no sockets and
 * no Redis: the sequences that tell a gap (server/cluster/room-sequences.ts), and a room
 * that reads what it missed from its store (server/room/catch-up.ts).
 */
import { HeardSequences, SentSequences } from '../server/cluster/room-sequences';
import type { ChatMessage } from '../server/protocol';
import { Rooms } from '../server/room/rooms';
import { createLogger } from '../server/support/logger';
import { append } from './support/store-calls';
import { memoryStore, recordingSink } from './support/room-fakes';

const logger = createLogger('silent');

describe('room sequences', () => {
  it('tell a gap in a node’s messages of a room, with the last chat heard from it before the gap', () => {
    const sent = new SentSequences();
    const heard = new HeardSequences();
    const [first, second, third, fourth] = [sent.next('r'), sent.next('r'), sent.next('r'), sent.next('r')];
    expect(heard.heard('r', first!)).toBeNull();
    heard.chat('r', '5-1');
    expect(heard.heard('r', second!)).toBeNull();
    heard.chat('r', '6-1');
    // The third was lost.
    expect(heard.heard('r', fourth!)).toEqual({ since: '6-1' });
    expect(third).toEqual({ epoch: first!.epoch, n: 3 });
    // Each room has a sequence of its own.
    expect(sent.next('other')).toMatchObject({ n: 1 });
  });

  it('take a message that comes late (sent again behind later ones) as no gap, and move nothing back', () => {
    const sent = new SentSequences();
    const heard = new HeardSequences();
    const [first, second, third, fourth] = [sent.next('r'), sent.next('r'), sent.next('r'), sent.next('r')];
    heard.heard('r', first!);
    expect(heard.heard('r', third!)).toEqual({ since: undefined });
    expect(heard.heard('r', second!)).toBeNull();
    expect(heard.heard('r', fourth!)).toBeNull();
  });

  it('start again with a new epoch when the sender’s room came back, where a first message lost is a gap too', () => {
    const sent = new SentSequences();
    const heard = new HeardSequences();
    expect(heard.heard('r', sent.next('r'))).toBeNull();
    sent.forget('r');
    expect(heard.heard('r', sent.next('r'))).toBeNull();
    sent.forget('r');
    sent.next('r');
    expect(heard.heard('r', sent.next('r'))).toEqual({ since: undefined });
  });

  it('tell from a presence snapshot that the last messages were lost, once', () => {
    const sent = new SentSequences();
    const heard = new HeardSequences();
    heard.heard('r', sent.next('r'));
    heard.chat('r', '7-1');
    sent.next('r');
    expect(heard.behind('r', sent.last('r')!)).toEqual({ since: '7-1' });
    expect(heard.behind('r', sent.last('r')!)).toBeNull();
    // The message the snapshot passed on the way comes as expected, not as a gap.
    expect(heard.heard('r', { epoch: sent.last('r')!.epoch, n: 2 })).toBeNull();
    // Nothing is told of a room never heard.
    expect(heard.behind('unheard', sent.next('unheard'))).toBeNull();
  });
});

describe('a room catching up', () => {
  /**
   * A room with a raw sink recording what its clients see, and the store it shares with
   * another node, which appends there directly; `gate`, when given, holds each read.
   */
  async function openRoom(gate?: Promise<void>) {
    const store = memoryStore();
    const read = store.read.bind(store);
    const reads = gate === undefined ? store : Object.assign(Object.create(store) as typeof store, { read: async (...args: Parameters<typeof read>) => (await gate, read(...args)) });
    const events: string[] = [];
    const rooms = new Rooms({ maxRooms: 10, historySize: 10, historyBytes: 1 << 20, store: reads, logger });
    rooms.addSinks(() => recordingSink(events));
    const room = rooms.open('r')!;
    await room.ready;
    const elsewhere = (text: string) => append(store, 'r', text);
    return { room, events, rooms, elsewhere };
  }
  const chat = (message: ChatMessage) => ({ type: 'chat' as const, room: 'r', message });

  it('shows the stored chats after the last one heard that it has not shown, then the others’ events in their order', async () => {
    const { room, events, rooms, elsewhere } = await openRoom();
    const heard = await elsewhere('heard');
    room.receive(chat(heard));
    const lost = [await elsewhere('lost 1'), await elsewhere('lost 2')];
    const next = await elsewhere('next');
    room.catchUp(heard.id);
    room.receive(chat(next));
    // A chat shown from the store that still arrives on the bus is not shown again.
    room.receive(chat(lost[1]!));
    expect(events).toEqual(['chat:heard', 'chat:lost 1', 'chat:lost 2', 'chat:next']);
    rooms.close();
  });

  it('holds the events that arrive while the store reads, and shows them after what it read', async () => {
    let release: () => void = () => undefined;
    const { room, events, rooms, elsewhere } = await openRoom(new Promise<void>((resolve) => (release = resolve)));
    const heard = await elsewhere('heard');
    room.receive(chat(heard));
    await elsewhere('lost');
    room.catchUp(heard.id);
    room.receive({ type: 'notice', room: 'r', notice: { kind: 'join', name: 'bob', text: 'bob joined', online: 2, at: 1 } as never });
    room.receive(chat(await elsewhere('after')));
    expect(events).toEqual(['chat:heard']);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    // `after` was stored before the read: it shows with what was read, and its copy from the bus does not show again.
    expect(events).toEqual(['chat:heard', 'chat:lost', 'chat:after', 'join:bob']);
    rooms.close();
  });
});
