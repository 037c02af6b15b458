/**
 * A room's order of events and its quiet mode, with no sockets and no clock: sinks and
 * a bus that record, a store whose appends complete when the test says, in the order it
 * chooses.
 */
import type { ChatMessage } from '../server/protocol';
import type { PresenceCount } from '../server/room/presence';
import { Room } from '../server/room/room';
import type { PostOutcome, RoomBus, RoomEvent, RoomSink } from '../server/room/room-seams';
import { Rooms } from '../server/room/rooms';
import { StoreUnavailableError, type MessageStore } from '../server/store/message-store';
import { createLogger } from '../server/support/logger';
import { memoryStore, recordingSink } from './support/room-fakes';

const logger = createLogger('silent');

/** A bus to no other node: records what the room publishes on it. */
function recordingBus(events: string[], remoteOnline = 0): RoomBus {
  return {
    publish: (event: RoomEvent, _local: PresenceCount) =>
      events.push(
        event.type === 'chat'
          ? `bus:chat:${event.message.text}`
          : event.type === 'notice'
            ? `bus:${event.notice.kind}:${event.notice.name}`
            : event.type === 'change'
              ? `bus:${event.change.kind}:${event.change.id}`
              : `bus:kick:${event.user}`,
      ),
    remote: () => [],
    remoteOnline: () => remoteOnline,
  };
}

/**
 * A store whose appends wait: `complete(text)` answers the append of `text` (stamped, or
 * refused when `refuse` holds it), in whatever order the test chooses, not necessarily
 * the order the room asked in.
 */
function heldStore(refuse: ReadonlySet<string> = new Set()) {
  const waiting = new Map<string, () => void>();
  let sequence = 0;
  const store: MessageStore = {
    append: (_room, name, text, done) => {
      const id = `1-${(sequence += 1)}`; // stamped in the order asked, as every store does
      waiting.set(text, () => {
        if (refuse.has(text)) done(new StoreUnavailableError('disk full'), null);
        else done(null, { id, name, text, at: 1 });
      });
    },
    recent: () => [],
    read: () => ({ messages: [], complete: true, more: false }),
    rooms: () => [],
    change: () => undefined,
    userRooms: () => [],
    problem: () => null,
    close: () => undefined,
  };
  const complete = (...texts: string[]) => {
    for (const text of texts) {
      const answer = waiting.get(text);
      if (answer === undefined) throw new Error(`no append of ${text} is waiting`);
      waiting.delete(text);
      answer();
    }
  };
  return { store, complete };
}

function room(store: MessageStore, sinks: RoomSink[], bus?: RoomBus): Room {
  return new Room({ name: 'alpha', historySize: 10, historyBytes: 1 << 20, store, sinks, logger, bus, now: () => 7 });
}

/** An outcome that records `ack:<text>` and `refused:<text>` into `events`. */
const outcome = (events: string[], text: string): PostOutcome => ({
  accepted: (message) => events.push(`ack:${message.text}`),
  refused: (error) => events.push(`refused:${text}:${error.code}`),
});

describe('Room: events leave in the order they happened', () => {
  it('holds everything behind a message still being stored, whatever order the store answers in', () => {
    const events: string[] = [];
    const { store, complete } = heldStore();
    const alpha = room(store, [recordingSink(events)], recordingBus(events));
    alpha.post('ann', 'one', outcome(events, 'one'));
    alpha.join('bob');
    alpha.post('bob', 'two', outcome(events, 'two'));
    alpha.post('ann', 'three', outcome(events, 'three'));
    alpha.leave('bob');
    expect(events).toEqual([]);

    complete('three'); // answered first, but two messages come before it
    expect(events).toEqual([]);
    complete('one'); // the head: it and the join behind it go; `two` is still out
    expect(events).toEqual(['ack:one', 'chat:one', 'bus:chat:one', 'join:bob', 'bus:join:bob']);
    events.length = 0;
    complete('two'); // now `three` (answered long ago) and the leave follow it
    expect(events).toEqual([
      'ack:two',
      'chat:two',
      'bus:chat:two',
      'ack:three',
      'chat:three',
      'bus:chat:three',
      'leave:bob',
      'bus:leave:bob',
    ]);
    expect(alpha.recent().map((message) => (message as ChatMessage).text)).toEqual(['one', 'two', 'three']);
  });

  it('announces a join at once when nothing is being stored', () => {
    const events: string[] = [];
    const { store, complete } = heldStore();
    const alpha = room(store, [recordingSink(events)]);
    alpha.join('ann');
    expect(events).toEqual(['join:ann']);
    alpha.post('ann', 'hi');
    alpha.join('bob');
    expect(events).toEqual(['join:ann']);
    complete('hi');
    expect(events).toEqual(['join:ann', 'chat:hi', 'join:bob']);
    alpha.leave('bob'); // the queue is empty again: no waiting
    expect(events).toEqual(['join:ann', 'chat:hi', 'join:bob', 'leave:bob']);
  });

  it("gives a newcomer a presence that the notices it receives next bring up to date, queued ones included", () => {
    const { store, complete } = heldStore();
    const events: string[] = [];
    const alpha = room(store, [recordingSink(events)]);
    alpha.join('zed');
    alpha.post('zed', 'held');
    alpha.join('ann'); // behind the message being stored
    alpha.leave('zed'); // likewise
    // A newcomer now: nothing of the queued notices has gone out, so zed is still here
    // and ann not yet; the notices it is about to receive say so.
    expect(alpha.presenceNow()).toEqual({ online: 1, members: [{ name: 'zed', connections: 1 }] });
    complete('held');
    expect(events).toEqual(['join:zed', 'chat:held', 'join:ann', 'leave:zed']);
    expect(alpha.presenceNow()).toEqual({ online: 1, members: [{ name: 'ann', connections: 1 }] });
  });

  it('gives every sink the same order, also when a sink posts from inside a delivery', () => {
    const first: string[] = [];
    const second: string[] = [];
    let alpha: Room | undefined;
    // A sink that answers "ping" with "pong" while the room is still delivering "ping".
    const answering: RoomSink = {
      chat: (message) => {
        first.push(`chat:${message.text}`);
        if (message.text === 'ping') alpha?.post('bot', 'pong');
      },
      notice: (notice) => first.push(`${notice.kind}:${notice.name}`),
    };
    alpha = room(memoryStore(), [answering, recordingSink(second)]);
    alpha.post('ann', 'ping');
    alpha.post('ann', 'after');
    expect(second).toEqual(['chat:ping', 'chat:pong', 'chat:after']);
    expect(first).toEqual(second);
  });

  it('keeps going when a sink throws: the other sinks and the next events still get through', () => {
    const events: string[] = [];
    const { store, complete } = heldStore();
    const broken: RoomSink = {
      chat: () => {
        throw new Error('broken sink');
      },
      notice: () => undefined,
    };
    const alpha = room(store, [recordingSink(events), broken]);
    alpha.post('ann', 'one');
    alpha.post('ann', 'two');
    alpha.join('bob');
    complete('one', 'two');
    expect(events).toEqual(['chat:one', 'chat:two', 'join:bob']);
  });
});

describe('Room: a refused message reaches nobody', () => {
  it('tells only its sender; no sink, no bus, no history; the events behind it go out', () => {
    const events: string[] = [];
    const { store, complete } = heldStore(new Set(['lost']));
    const alpha = room(store, [recordingSink(events)], recordingBus(events));
    alpha.post('ann', 'kept', outcome(events, 'kept'));
    alpha.post('ann', 'lost', outcome(events, 'lost'));
    alpha.join('bob');
    alpha.post('bob', 'later', outcome(events, 'later'));

    complete('lost'); // refused before the message ahead of it is stored: still waits its turn
    expect(events).toEqual([]);
    complete('kept');
    expect(events).toEqual(['ack:kept', 'chat:kept', 'bus:chat:kept', 'refused:lost:unavailable', 'join:bob', 'bus:join:bob']);
    complete('later');
    expect(events.slice(6)).toEqual(['ack:later', 'chat:later', 'bus:chat:later']);
    expect(alpha.recent().map((message) => (message as ChatMessage).text)).toEqual(['kept', 'later']);
  });

  it('is dropped quietly when its sender asked for no outcome', () => {
    const events: string[] = [];
    const { store, complete } = heldStore(new Set(['lost']));
    const alpha = room(store, [recordingSink(events)], recordingBus(events));
    alpha.post('ann', 'lost');
    alpha.post('ann', 'next');
    complete('lost', 'next');
    expect(events).toEqual(['chat:next', 'bus:chat:next']);
  });
});

describe('Room: quiet mode (shutdown)', () => {
  it('stops announcing joins and leaves, anywhere, but still counts them', () => {
    const events: string[] = [];
    const alpha = room(memoryStore(), [recordingSink(events)], recordingBus(events, 3));
    alpha.join('ann');
    alpha.silenceNotices();
    const join = alpha.join('bob');
    alpha.join('cid');
    const leave = alpha.leave('ann');
    expect(events).toEqual(['join:ann', 'bus:join:ann']);
    // The notices are still what they would have said (the caller may use them).
    expect(join).toEqual({ kind: 'join', text: expect.any(String), name: 'bob', online: 2 + 3, at: 7 });
    expect(leave.online).toBe(2 + 3);
    expect(alpha.localOnline).toBe(2);
    expect(alpha.presenceNow()).toEqual({
      online: 2,
      members: [
        { name: 'bob', connections: 1 },
        { name: 'cid', connections: 1 },
      ],
    });
  });

  it('still delivers chat, its own and other nodes', () => {
    const events: string[] = [];
    const alpha = room(memoryStore(), [recordingSink(events)], recordingBus(events));
    alpha.silenceNotices();
    alpha.post('ann', 'bye');
    alpha.receive({ type: 'chat', room: 'alpha', message: { id: '2-1', name: 'zed', text: 'remote', at: 1 } });
    alpha.receive({ type: 'notice', room: 'alpha', notice: { kind: 'join', text: 'x', name: 'zed', online: 1, at: 1 } });
    expect(events).toEqual(['chat:bye', 'bus:chat:bye', 'chat:remote']);
  });

  it('still announces, in order, a join that happened before it and waits behind a message', () => {
    const events: string[] = [];
    const { store, complete } = heldStore();
    const alpha = room(store, [recordingSink(events)]);
    alpha.post('ann', 'hi');
    alpha.join('bob');
    alpha.silenceNotices();
    alpha.join('cid');
    complete('hi');
    expect(events).toEqual(['chat:hi', 'join:bob']);
  });

  it('covers the rooms already open and the rooms opened after it (Rooms.silenceNotices)', () => {
    const events: string[] = [];
    const rooms = new Rooms({ maxRooms: 5, historySize: 10, historyBytes: 1 << 20, store: memoryStore(), logger });
    rooms.addSinks((name) => recordingSink(events, `${name}/`));
    try {
      rooms.open('alpha')?.join('ann');
      rooms.silenceNotices();
      rooms.open('alpha')?.join('bob');
      rooms.open('beta')?.join('cid');
      rooms.open('beta')?.post('cid', 'still here');
      expect(events).toEqual(['alpha/join:ann', 'beta/chat:still here']);
      expect(rooms.get('beta')?.localOnline).toBe(1);
    } finally {
      rooms.close();
    }
  });
});

describe('Room: events from other nodes', () => {
  it('go to the sinks that are not cluster-wide only, and are not published again', () => {
    const events: string[] = [];
    const alpha = room(memoryStore(), [recordingSink(events, 'raw/'), recordingSink(events, 'sio/', true)], recordingBus(events));
    alpha.receive({ type: 'chat', room: 'alpha', message: { id: '2-1', name: 'zed', text: 'remote', at: 1 } });
    alpha.receive({ type: 'notice', room: 'alpha', notice: { kind: 'leave', text: 'x', name: 'zed', online: 0, at: 1 } });
    expect(events).toEqual(['raw/chat:remote', 'raw/leave:zed']);
    expect(alpha.recent().map((message) => (message as ChatMessage).text)).toEqual(['remote']);
  });
});
