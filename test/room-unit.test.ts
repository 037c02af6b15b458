/**
 * The room layer on its own, with no sockets: a sink that records, a store that answers
 * when the test says so.
 */
import { createLogger } from '../server/support/logger';
import { Rooms } from '../server/room/rooms';
import { StoreUnavailableError, type MessageStore } from '../server/store/message-store';
import { memoryStore, recordingSink } from './support/room-fakes';

const logger = createLogger('silent');


/** A store that answers each append when the test calls the next of `answers` (refusing the texts in `refuse`). */
function slowStore(answers: (() => void)[], refuse: ReadonlySet<string> = new Set()): MessageStore {
  let sequence = 0;
  return {
    append: (_room, name, text, done) =>
      answers.push(() => {
        if (refuse.has(text)) done(new StoreUnavailableError('test'), null);
        else done(null, { id: `1-${(sequence += 1)}`, name, text, at: 1 });
      }),
    recent: () => [],
    read: () => ({ messages: [], complete: true, more: false }),
    rooms: () => [],
    change: () => undefined,
    userRooms: () => [],
    problem: () => null,
    close: () => undefined,
  };
}

function rooms(maxRooms: number, store: MessageStore = memoryStore(), events: string[] = []): Rooms {
  const all = new Rooms({ maxRooms, historySize: 10, historyBytes: 1 << 20, store, logger });
  all.addSinks(() => recordingSink(events));
  return all;
}

describe('Rooms', () => {
  it('always has a place for the lobby, and counts it', () => {
    const held = rooms(2);
    const alpha = held.open('alpha');
    alpha?.join('a');
    expect(held.open('beta')).toBeNull();
    expect(held.open('lobby')).not.toBeNull();
    held.close();
  });

  it('gives a new room the place of the room that has been empty longest', () => {
    const held = rooms(3);
    for (const name of ['alpha', 'beta']) {
      held.open(name)?.join('x');
    }
    held.get('alpha')?.leave('x');
    held.get('beta')?.leave('x');
    expect(held.open('gamma')).not.toBeNull();
    expect([held.get('alpha'), held.get('beta') !== undefined]).toEqual([undefined, true]);
    held.close();
  });

  it('keeps a room that a client is on its way into (its history still loading)', () => {
    const held = rooms(2);
    const alpha = held.open('alpha');
    alpha?.arrive();
    expect(held.open('beta')).toBeNull();
    alpha?.cancelArrival();
    expect(held.open('beta')).not.toBeNull();
    held.close();
  });

  it('refuses a new room only while every room has someone in it', () => {
    const held = rooms(2);
    held.open('alpha')?.join('x');
    expect(held.open('beta')).toBeNull();
    held.get('alpha')?.leave('x');
    expect(held.open('beta')).not.toBeNull();
    held.close();
  });
});

describe('Room', () => {
  it('publishes in stamp order when the store answers later, notices included', async () => {
    const answers: (() => void)[] = [];
    const events: string[] = [];
    const held = rooms(5, slowStore(answers), events);
    const room = held.open('alpha');
    room?.post('ann', 'first');
    room?.post('ann', 'second');
    room?.join('bob'); // after two messages still being stored: announced after them
    expect(events).toEqual([]);
    answers[1]?.(); // the second answers first: it still waits for the first
    expect(events).toEqual([]);
    answers[0]?.();
    expect(events).toEqual(['chat:first', 'chat:second', 'join:bob']);
    held.close();
  });

  it('answers the sender before anyone receives the message', () => {
    const events: string[] = [];
    const held = rooms(5, memoryStore(), events);
    held.open('alpha')?.post('ann', 'hello', { accepted: (message) => events.push(`ack:${message.text}`) });
    expect(events).toEqual(['ack:hello', 'chat:hello']);
    held.close();
  });

  it('delivers nothing of a message the store refuses, and tells its sender; the next goes out', () => {
    const answers: (() => void)[] = [];
    const events: string[] = [];
    const held = rooms(5, slowStore(answers, new Set(['lost'])), events);
    const room = held.open('alpha');
    const outcome = (label: string) => ({
      accepted: () => events.push(`ack:${label}`),
      refused: (error: StoreUnavailableError) => events.push(`refused:${label}:${error.code}`),
    });
    room?.post('ann', 'lost', outcome('lost'));
    room?.post('ann', 'kept', outcome('kept'));
    for (const answer of answers) answer();
    expect(events).toEqual(['refused:lost:unavailable', 'ack:kept', 'chat:kept']);
    held.close();
  });

  it('counts presence per name, several connections each', () => {
    const held = rooms(5);
    const room = held.open('alpha');
    room?.join('ann');
    room?.join('ann');
    room?.join('bob');
    room?.leave('bob');
    expect(room?.presenceNow()).toEqual({ online: 2, members: [{ name: 'ann', connections: 2 }] });
    held.close();
  });
});
