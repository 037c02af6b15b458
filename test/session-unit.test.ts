/**
 * The session core on its own, with no sockets: what a wire hands a Session and its
 * Members, and what it gets back (replies, welcomes, counts), on a clock the test moves.
 */
import { Admission, isRefusal, type Ticket } from '../server/access/admission';
import { Credentials } from '../server/access/credentials';
import { ChatError, MAX_ROOMS_PER_CONNECTION, RoomError, type ChatErrorCode } from '../server/protocol';
import { FloodControl } from '../server/room/flood-control';
import { Room } from '../server/room/room';
import type { RoomSink } from '../server/room/room-seams';
import { Rooms } from '../server/room/rooms';
import type { MessageStore } from '../server/store/message-store';
import { Moderation } from '../server/session/moderation';
import { MemoryBanStore } from '../server/store/memory-ban-store';
import { SessionCore } from '../server/session/core';
import type { Member, MemberWire, PostReply } from '../server/session/member';
import { isRoomRefusal } from '../server/session/session';
import { ExpiryClock } from '../server/support/expiry-clock';
import { createLogger } from '../server/support/logger';
import type { Metrics } from '../server/support/metrics';
import { memoryStore, recordingSink } from './support/room-fakes';

const logger = createLogger('silent');

function recordingMetrics(counts: string[]): Metrics {
  return {
    reject: (reason: string) => counts.push(`reject:${reason}`),
    messageIn: (transport: string) => counts.push(`in:${transport}`),
  } as unknown as Metrics;
}

interface Setup {
  maxMessageBytes?: number;
  flood?: FloodControl;
  maxRooms?: number;
}

function core(counts: string[], setup: Setup = {}): SessionCore {
  const metrics = recordingMetrics(counts);
  const rooms = new Rooms({ maxRooms: setup.maxRooms ?? 100, historySize: 10, historyBytes: 1 << 20, store: memoryStore(), logger });
  return new SessionCore({
    rooms,
    moderation: new Moderation({ store: new MemoryBanStore(), rooms, logger }),
    admission: new Admission({ maxConnections: 10, maxConnectionsPerIp: 0 }),
    credentials: new Credentials(null, null, metrics, logger),
    floodControl: setup.flood ?? new FloodControl({ rateLimit: 0, rateBurst: 1, byteRate: 0, byteBurst: 1 }),
    expiry: new ExpiryClock(),
    maxMessageBytes: setup.maxMessageBytes ?? 100,
    publishHook: null,
    metrics,
    logger,
  });
}

function room(store: MessageStore, sinks: RoomSink[]): Room {
  return new Room({ name: 'alpha', historySize: 10, historyBytes: 1 << 20, store, sinks, logger, now: () => 7 });
}

/** A wire that welcomes at once and records what the member asks of it. */
function wire(events: string[]): MemberWire {
  return {
    open: true,
    welcome: (join) => {
      events.push('welcome');
      join();
    },
    expire: () => events.push('expire'),
    fields: () => ({}),
  };
}

/** Records each reply as `ok:<text>`, `refused` or the error code; answers `null` (posted) or the code. */
function replies(events: string[]): { reply: PostReply; codes: (ChatErrorCode | null)[] } {
  const codes: (ChatErrorCode | null)[] = [];
  return {
    codes,
    reply: {
      accepted: (message) => events.push(`ok:${message.text}`),
      refused: () => events.push('refused'),
      rejected: (error) => codes.push(error),
    },
  };
}

/** Enters a member made by `Session.member`, as a wire does once it holds it. */
function enter(member: Member): Member {
  member.enter();
  return member;
}

function ticketOf(answer: ReturnType<SessionCore['admit']>): Ticket {
  if (isRefusal(answer)) throw new Error(`refused: ${answer.status}`);
  return answer;
}

describe('Member: what a wire hands the room', () => {
  it('refuses a bad text at once: nothing is stored or delivered, the reason is counted', () => {
    const events: string[] = [];
    const counts: string[] = [];
    const stored: string[] = [];
    const store = memoryStore();
    const append = store.append.bind(store);
    store.append = (roomName, name, text, done) => {
      stored.push(text);
      append(roomName, name, text, done);
    };
    const sessions = core(counts, { maxMessageBytes: 8 });
    const alpha = room(store, [recordingSink(events)]);
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'socket.io', true)), 'socket.io');
    const ann = enter(session.member(alpha, null, 'ann', wire([])));
    events.length = 0; // its own join
    const { reply, codes } = replies(events);
    ann.post(42, reply);
    ann.post('   ', reply);
    ann.post('much too long', reply);
    expect(codes).toEqual([ChatError.InvalidType, ChatError.Empty, ChatError.TooLarge]);
    expect(events).toEqual([]);
    expect(stored).toEqual([]);
    expect(counts).toEqual(['reject:invalid', 'reject:invalid', 'reject:size']);
    // Raw frames are not checked: the seed broadcasts whatever text they hold.
    ann.postVerbatim('   ', reply);
    expect(events).toEqual(['ok:   ', 'chat:   ']);
    expect(counts.at(-1)).toBe('in:socket.io');
  });

  it('refuses past the flood limit until the budget refills, on a clock the test moves', () => {
    const events: string[] = [];
    const counts: string[] = [];
    let ms = 0;
    const flood = new FloodControl({ rateLimit: 1, rateBurst: 2, byteRate: 0, byteBurst: 1 }, () => ms);
    const sessions = core(counts, { flood });
    const alpha = room(memoryStore(), [recordingSink(events)]);
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'socket.io', true)), 'socket.io');
    const ann = enter(session.member(alpha, null, 'ann', wire([])));
    events.length = 0;
    const { reply, codes } = replies([]);
    const send = (text: string) => {
      const before = codes.length;
      ann.post(text, reply);
      return codes.length === before ? null : codes.at(-1);
    };
    expect([send('a'), send('b'), send('c')]).toEqual([null, null, ChatError.RateLimited]);
    ms += 999;
    expect(send('d')).toBe(ChatError.RateLimited);
    ms += 1;
    expect(send('e')).toBeNull();
    expect(events).toEqual(['chat:a', 'chat:b', 'chat:e']);
    expect(counts.filter((line) => line === 'reject:rate')).toHaveLength(2);
  });

  it('joins once welcomed, and a member gone before that never joins and leaves nothing behind', () => {
    const events: string[] = [];
    const sessions = core([]);
    const alpha = room(memoryStore(), [recordingSink(events)]);
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'raw', true)), 'raw');
    const welcomed: string[] = [];
    const ann = enter(session.member(alpha, null, 'ann', wire(welcomed)));
    expect([...welcomed, ...events]).toEqual(['welcome', 'join:ann']);
    const gone = enter(session.member(alpha, null, 'bob', { ...wire([]), open: false }));
    expect(gone.joined).toBe(false);
    gone.leave({});
    ann.leave({});
    expect(events).toEqual(['join:ann', 'leave:ann']);
    expect(alpha.localOnline).toBe(0);
  });
});

describe('Session: one connection', () => {
  it('holds at most MAX_ROOMS_PER_CONNECTION rooms, and one more once one is left', () => {
    const sessions = core([]);
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'socket.io', false)), 'socket.io');
    for (let i = 0; i < MAX_ROOMS_PER_CONNECTION; i += 1) expect(isRoomRefusal(session.claimRoom(`room-${i}`))).toBe(false);
    expect(session.claimRoom('one-more')).toEqual({ error: RoomError.TooManyRooms });
    session.leaveRoom();
    expect(isRoomRefusal(session.claimRoom('one-more'))).toBe(false);
  });

  it('is refused a room when the node holds MAX_ROOMS rooms with clients', () => {
    const counts: string[] = [];
    const sessions = core(counts, { maxRooms: 1 });
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'raw', true)), 'raw');
    // The lobby's place is always kept: one other room fills a node of MAX_ROOMS 1.
    expect(session.claimRoom('busy')).toEqual({ error: RoomError.RoomLimit });
    expect(counts).toEqual(['reject:room_limit']);
  });

  it('gives its place in the counts back once, however often it is closed', () => {
    const sessions = core([]);
    const session = sessions.open(ticketOf(sessions.admit('1.2.3.4', 'raw', true)), 'raw');
    expect(sessions.admission.connections).toBe(1);
    session.close();
    session.close();
    expect(sessions.admission.connections).toBe(0);
  });
});
