/**
 * The cluster link between nodes, with neither Redis nor processes: each node's
 * Socket.IO server is replaced by its part of a fake carrier (what the link uses of it:
 * `on('chat:node')` and `serverSideEmit`), and time by Jest's fake clock, which moves
 * both Date.now() and the heartbeat timers.
 */
import type { Server } from 'socket.io';
import { socketIoCarrier } from '../server/cluster/bus-carrier';
import { ClusterRoomBus } from '../server/cluster/room-bus';
import type { ChatMessage, Notice } from '../server/protocol';
import type { RoomSink } from '../server/room/room-seams';
import { Rooms } from '../server/room/rooms';
import { MemoryStore } from '../server/store/memory-store';
import { createLogger } from '../server/support/logger';

const HEARTBEAT_MS = 3_000;

type Handler = (state: unknown) => void;

/**
 * The channel every node hears (a Redis channel, or the primary's IPC). What is sent goes
 * through JSON, as on the wire, and only to the other nodes, as `serverSideEmit` does. A
 * node that is cut off receives nothing, and what it sends meanwhile is held and delivered
 * when it is back, as the Redis adapter's offline queue would (the link must not send then).
 */
class FakeCarrier {
  private readonly handlers = new Map<string, Handler>();
  private readonly held = new Map<string, string[]>();
  /** Every bus message sent, as it went on the wire, with its sender. */
  readonly sent: { from: string; wire: string }[] = [];

  io(node: string): Server {
    return {
      on: (event: string, handler: Handler) => {
        if (event === 'chat:node') this.handlers.set(node, handler);
      },
      serverSideEmit: (event: string, state: unknown) => {
        if (event !== 'chat:node') return true;
        const wire = JSON.stringify(state);
        this.sent.push({ from: node, wire });
        const held = this.held.get(node);
        if (held !== undefined) held.push(wire);
        else this.deliver(node, wire);
        return true;
      },
    } as unknown as Server;
  }

  isUp(node: string): boolean {
    return !this.held.has(node);
  }

  cut(node: string): void {
    this.held.set(node, []);
  }

  restore(node: string): void {
    const held = this.held.get(node) ?? [];
    this.held.delete(node);
    for (const wire of held) this.deliver(node, wire);
  }

  /** Something that is not a node's message, as a foreign process on the channel would send. */
  inject(state: unknown): void {
    for (const handler of this.handlers.values()) handler(state);
  }

  private deliver(from: string, wire: string): void {
    for (const [other, handler] of this.handlers) {
      if (other !== from && this.isUp(other)) handler(JSON.parse(wire));
    }
  }
}

/** The end of the current event-loop turn, which the test says when it is: the link sends a turn's events then. */
let turnEnd: (() => void)[] = [];
function endTurn(): void {
  const tasks = turnEnd;
  turnEnd = [];
  for (const task of tasks) task();
}

interface Node {
  name: string;
  rooms: Rooms;
  link: ClusterRoomBus;
  /**
   * What this node's raw clients (`raw/`) and Socket.IO clients (`sio/`) were handed; a
   * notice for this node's clients only (not the cluster-wide emit) ends in ` here`.
   */
  events: string[];
  /** The notices its raw clients were handed, whole. */
  notices: Notice[];
}

const logLines: string[] = [];
const logger = createLogger('warn', { write: (line: string) => void logLines.push(line) });

function sink(events: string[], label: string, clusterWide: boolean, notices?: Notice[]): RoomSink {
  return {
    chat: (message: ChatMessage) => events.push(`${label}chat:${message.text}`),
    notice: (notice: Notice, here?: boolean) => {
      events.push(`${label}${notice.kind}:${notice.name}${here === true ? ' here' : ''}`);
      notices?.push(notice);
    },
    clusterWide,
  };
}

let carrier: FakeCarrier;
let nodes: Node[];

function node(name: string): Node {
  const events: string[] = [];
  const notices: Notice[] = [];
  const rooms = new Rooms({ maxRooms: 10, historySize: 10, historyBytes: 1 << 20, store: new MemoryStore({ keep: 10, maxBytes: 1 << 20 }), logger });
  rooms.addSinks(() => sink(events, 'raw/', false, notices));
  rooms.addSinks(() => sink(events, 'sio/', true));
  const link = new ClusterRoomBus({
    carrier: socketIoCarrier(carrier.io(name)),
    rooms,
    logger,
    connected: () => carrier.isUp(name),
    heartbeatMs: HEARTBEAT_MS,
    atTurnEnd: (task) => turnEnd.push(task),
  });
  rooms.joinCluster(link);
  const created = { name, rooms, link, events, notices };
  nodes.push(created);
  return created;
}

/** The room on `of`, opened if need be. */
function alpha(of: Node) {
  const room = of.rooms.open('alpha');
  if (room === null) throw new Error('no room');
  return room;
}

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
  carrier = new FakeCarrier();
  nodes = [];
  turnEnd = [];
  logLines.length = 0;
});

afterEach(() => {
  for (const { link, rooms } of nodes) {
    link.close();
    rooms.close();
  }
  jest.useRealTimers();
});

describe('ClusterRoomBus: counts from other nodes', () => {
  it('counts the clients of another node from its joins, and keeps counting them while its heartbeats arrive', () => {
    const a = node('a');
    const b = node('b');
    alpha(b).join('bob');
    alpha(b).join('bob');
    alpha(b).join('cid');
    endTurn();
    expect(a.link.remoteOnline('alpha')).toBe(3);
    expect(alpha(a).presenceNow()).toEqual({
      online: 3,
      members: [
        { name: 'bob', connections: 2 },
        { name: 'cid', connections: 1 },
      ],
    });
    // A local join's notice counts everyone, on every node.
    expect(alpha(a).join('ann').online).toBe(4);
    endTurn();
    for (let step = 0; step < 20; step += 1) {
      jest.advanceTimersByTime(HEARTBEAT_MS / 2);
      expect(alpha(a).presenceNow().online).toBe(4);
    }
    expect(b.link.remoteOnline('alpha')).toBe(1);
  });

  it('stops counting a node not heard from for the heartbeat window, and counts it again once it is back', () => {
    const a = node('a');
    const b = node('b');
    alpha(b).join('bob'); // heard now, then never again: b's carrier goes down
    endTurn();
    carrier.cut('b');
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(a.link.remoteOnline('alpha')).toBe(1); // exactly the window: still counted
    expect(alpha(a).presenceNow().online).toBe(1);
    jest.advanceTimersByTime(1);
    expect(a.link.remoteOnline('alpha')).toBe(0);
    expect(alpha(a).presenceNow()).toEqual({ online: 0, members: [] });
    expect(alpha(a).join('ann').online).toBe(1);

    // Back: b's next heartbeat (a snapshot of every room) makes its clients count again.
    carrier.restore('b');
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(a.link.remoteOnline('alpha')).toBe(1);
    expect(alpha(a).presenceNow().members).toEqual([
      { name: 'ann', connections: 1 },
      { name: 'bob', connections: 1 },
    ]);
  });

  it('expires each node on its own clock', () => {
    const a = node('a');
    const b = node('b');
    const c = node('c');
    alpha(b).join('bob');
    endTurn();
    carrier.cut('b');
    jest.advanceTimersByTime(HEARTBEAT_MS / 2);
    alpha(c).join('cid');
    endTurn();
    carrier.cut('c');
    expect(a.link.remoteOnline('alpha')).toBe(2);
    jest.advanceTimersByTime(HEARTBEAT_MS / 2 + 1); // b silent for the window and 1 ms, c for half
    expect(alpha(a).presenceNow().members).toEqual([{ name: 'cid', connections: 1 }]);
    jest.advanceTimersByTime(HEARTBEAT_MS / 2);
    expect(a.link.remoteOnline('alpha')).toBe(0);
  });

  it('stops counting a node that leaves at once, without waiting for the window', () => {
    const a = node('a');
    const b = node('b');
    alpha(b).join('bob');
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(a.link.remoteOnline('alpha')).toBe(1);
    b.link.close();
    expect(a.link.remoteOnline('alpha')).toBe(0);
    jest.advanceTimersByTime(10 * HEARTBEAT_MS); // and it sends no heartbeat after
    expect(a.link.remoteOnline('alpha')).toBe(0);
  });

  it('follows joins and leaves between heartbeats, and takes each heartbeat as the whole truth', () => {
    const a = node('a');
    const b = node('b');
    alpha(b).join('bob');
    alpha(b).join('cid');
    alpha(b).leave('bob');
    endTurn();
    expect(alpha(a).presenceNow().members).toEqual([{ name: 'cid', connections: 1 }]);

    // A leave that a missed while its own carrier was down (b still heard within the
    // window): b's next heartbeat corrects the count.
    carrier.cut('a');
    alpha(b).leave('cid');
    endTurn();
    carrier.restore('a');
    expect(a.link.remoteOnline('alpha')).toBe(1);
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(a.link.remoteOnline('alpha')).toBe(0);
    expect(alpha(a).presenceNow()).toEqual({ online: 0, members: [] });
  });

  it('counts per room', () => {
    const a = node('a');
    const b = node('b');
    b.rooms.open('beta')?.join('bob');
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(a.link.remoteOnline('beta')).toBe(1);
    expect(a.link.remoteOnline('alpha')).toBe(0);
    expect([...a.link.remote('alpha')]).toEqual([]);
  });
});

describe('ClusterRoomBus: events', () => {
  it('hands the chat and notices of another node to the raw clients here only, in order', () => {
    const a = node('a');
    const b = node('b');
    alpha(a); // a has the room open, with its sinks
    alpha(b).join('bob');
    alpha(b).post('bob', 'hello');
    alpha(b).leave('bob');
    expect(a.events).toEqual([]); // the turn's events go out together, at its end
    endTurn();
    expect(a.events).toEqual(['raw/join:bob', 'raw/chat:hello', 'raw/leave:bob']);
    expect(alpha(a).recent().map((message) => (message as ChatMessage).text)).toEqual(['hello']);
    // b's own clients got each event once, from b.
    expect(b.events).toEqual(['raw/join:bob', 'sio/join:bob', 'raw/chat:hello', 'sio/chat:hello', 'raw/leave:bob', 'sio/leave:bob']);
  });

  it('sends nothing while the other nodes cannot be reached (no stale event later)', () => {
    const a = node('a');
    const b = node('b');
    alpha(b);
    carrier.cut('a');
    alpha(a).join('ann');
    alpha(a).post('ann', 'lost for b');
    carrier.restore('a');
    endTurn();
    expect(b.events).toEqual([]);
    expect(b.link.remoteOnline('alpha')).toBe(0);
    // The heartbeat brings the count, and b tells its own clients of the join it missed;
    // the chat sent meanwhile never arrives.
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(b.link.remoteOnline('alpha')).toBe(1);
    expect(b.events).toEqual(['raw/join:ann here', 'sio/join:ann here']);
  });

  it("sends a turn's events in one bus message, in order, and a lone event in the shape earlier versions read", () => {
    const a = node('a');
    const b = node('b');
    alpha(a);
    alpha(b).join('bob');
    alpha(b).post('bob', 'one');
    alpha(b).post('bob', 'two');
    endTurn();
    const batch = carrier.sent.filter(({ from }) => from === 'b');
    expect(batch).toHaveLength(1);
    const events = (JSON.parse(batch[0]?.wire ?? '{}') as { events?: [{ type: string }, number][] }).events;
    expect(events?.map(([event, online]) => [event.type, online])).toEqual([
      ['notice', 1],
      ['chat', 1],
      ['chat', 1],
    ]);
    expect(a.events).toEqual(['raw/join:bob', 'raw/chat:one', 'raw/chat:two']);

    alpha(b).post('bob', 'alone');
    endTurn();
    const lone = JSON.parse(carrier.sent.filter(({ from }) => from === 'b')[1]?.wire ?? '{}') as Record<string, unknown>;
    expect(lone).toMatchObject({ node: expect.any(String), event: { type: 'chat', room: 'alpha' }, online: 1 });
    expect(lone).not.toHaveProperty('events');
    expect(a.events.at(-1)).toBe('raw/chat:alone');
  });

  it('ignores and logs a malformed message on the bus', () => {
    const a = node('a');
    for (const bad of [null, 'text', { snapshot: [] }, { node: 42 }]) carrier.inject(bad);
    expect(a.link.remoteOnline('alpha')).toBe(0);
    expect(logLines.filter((line) => line.includes('malformed message on the cluster bus'))).toHaveLength(4);
  });
});

describe('ClusterRoomBus: who left without a word of their own', () => {
  /** What `of`'s clients were handed since `from`, both kinds. */
  const since = (of: Node, from: number) => of.events.slice(from);

  it("tells this node's clients of both kinds, here only, one leave per connection of a node gone silent, on its own timer", () => {
    const a = node('a');
    const b = node('b');
    alpha(a).join('ann');
    alpha(b).join('bob');
    alpha(b).join('bob');
    alpha(b).join('cid');
    endTurn();
    const before = a.events.length;
    const noticesBefore = a.notices.length;
    carrier.cut('b');
    jest.advanceTimersByTime(HEARTBEAT_MS);
    expect(since(a, before)).toEqual([]);
    // Nobody asks a for presence: its timer notices on its own.
    jest.advanceTimersByTime(1);
    expect(since(a, before).sort()).toEqual(
      ['raw/leave:bob here', 'raw/leave:bob here', 'raw/leave:cid here', 'sio/leave:bob here', 'sio/leave:bob here', 'sio/leave:cid here'].sort(),
    );
    // Counted without them already: only ann is left.
    expect(a.notices.slice(noticesBefore).map((notice) => notice.online)).toEqual([1, 1, 1]);
    jest.advanceTimersByTime(10 * HEARTBEAT_MS);
    expect(since(a, before)).toHaveLength(6);
  });

  it('tells them of each connection a snapshot no longer has: a node leaving, or leaves missed while the bus was down', () => {
    const a = node('a');
    const b = node('b');
    alpha(a);
    alpha(b).join('bob');
    alpha(b).join('cid');
    alpha(b).join('cid');
    endTurn();
    carrier.cut('a');
    alpha(b).leave('cid');
    endTurn();
    carrier.restore('a');
    let before = a.events.length;
    jest.advanceTimersByTime(HEARTBEAT_MS / 3); // b's snapshot: one cid is gone
    expect(since(a, before)).toEqual(['raw/leave:cid here', 'sio/leave:cid here']);
    expect(a.notices.at(-1)).toMatchObject({ kind: 'leave', name: 'cid', online: 2 });
    expect(alpha(a).presenceNow().online).toBe(2);

    before = a.events.length;
    b.link.close(); // an empty snapshot: its clients leave without notices of their own
    expect(since(a, before).sort()).toEqual(['raw/leave:bob here', 'raw/leave:cid here', 'sio/leave:bob here', 'sio/leave:cid here']);
    expect(a.notices.at(-1)).toMatchObject({ kind: 'leave', online: 0 });
    jest.advanceTimersByTime(10 * HEARTBEAT_MS);
    expect(since(a, before)).toHaveLength(4);
  });

  it('tells them of each connection a snapshot has that the notices missed, and of a silent node that speaks again', () => {
    const a = node('a');
    const b = node('b');
    alpha(a).join('ann');
    alpha(b);
    endTurn();
    carrier.cut('a');
    alpha(b).join('bob'); // a misses this join
    endTurn();
    carrier.restore('a');
    let before = b.events.length;
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(since(a, 0)).toEqual(['raw/join:ann', 'sio/join:ann', 'raw/join:bob here', 'sio/join:bob here']);
    expect(a.notices.at(-1)).toMatchObject({ kind: 'join', name: 'bob', online: 2 });
    // b had heard of ann all along: nothing for b's clients.
    expect(since(b, before)).toEqual([]);

    // b goes silent (its leaves are told), then speaks again (its joins are told).
    carrier.cut('b');
    jest.advanceTimersByTime(HEARTBEAT_MS + 1);
    before = a.events.length;
    carrier.restore('b');
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    expect(since(a, before)).toEqual(['raw/join:bob here', 'sio/join:bob here']);
    expect(a.events.filter((event) => event === 'raw/leave:bob here')).toHaveLength(1);
  });
});

describe('ClusterRoomBus: users (JWT)', () => {
  it('carries each member’s user in notices and reports, so that two users with one name stay two on the other node', () => {
    const a = node('a');
    const b = node('b');
    alpha(a);
    alpha(b).join('alice', 'user-1');
    alpha(b).join('alice', 'user-2');
    endTurn();
    const both = [
      { name: 'alice', user: 'user-1', connections: 1 },
      { name: 'alice', user: 'user-2', connections: 1 },
    ];
    expect(alpha(a).presenceNow()).toEqual({ online: 2, members: both });
    expect(a.notices.map((notice) => notice.user)).toEqual(['user-1', 'user-2']);

    // b's report says the same as its notices did: nothing more is told.
    jest.advanceTimersByTime(HEARTBEAT_MS / 3);
    const reports = carrier.sent.filter(({ from, wire }) => from === 'b' && wire.includes('"snapshot"'));
    expect(JSON.parse(reports.at(-1)?.wire ?? '{}')).toMatchObject({
      snapshot: [
        [
          'alpha',
          [
            ['alice', 1, 'user-1'],
            ['alice', 1, 'user-2'],
          ],
        ],
      ],
    });
    expect(alpha(a).presenceNow()).toEqual({ online: 2, members: both });
    expect(a.notices).toHaveLength(2);

    alpha(b).leave('alice', 'user-1');
    endTurn();
    expect(alpha(a).presenceNow()).toEqual({ online: 1, members: [both[1]] });
    carrier.cut('b');
    jest.advanceTimersByTime(HEARTBEAT_MS + 1);
    expect(a.notices.at(-1)).toMatchObject({ kind: 'leave', name: 'alice', user: 'user-2', online: 0 });
  });
});
