/**
 * The raw broadcast group on its own: members are fake sockets that record each write,
 * no WebSocket server, no network. What is checked is what each client would read: the
 * frames in each write, decoded.
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { BroadcastGroup, type GroupMember } from '../server/transports/raw/broadcast-group';
import { SlowConsumerRule } from '../server/session/slow-consumer';
import { nextTurn } from './support/wait';

/** A member whose socket records each write (a copy) and reports `pending` as unsent bytes. */
interface FakeMember extends GroupMember {
  readonly label: string;
  readonly writes: Buffer[];
  pending: number;
  state: number;
}

function member(label: string): FakeMember {
  const writes: Buffer[] = [];
  const fake = {
    label,
    writes,
    pending: 0,
    state: WebSocket.OPEN,
    overSince: 0,
    from: 0,
  } as FakeMember;
  const socket = {
    write: (bytes: Buffer) => {
      writes.push(Buffer.from(bytes));
      return true;
    },
    get writableLength() {
      return fake.pending;
    },
  };
  const ws = {
    get readyState() {
      return fake.state;
    },
  };
  Object.assign(fake, { socket: socket as unknown as Duplex, ws: ws as unknown as WebSocket });
  return fake;
}

/** The texts of the unmasked, unfragmented text frames in `bytes`; throws on anything else. */
function texts(bytes: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes[at] !== 0x81) throw new Error(`not a final text frame at ${at}: ${bytes[at]}`);
    let length = (bytes[at + 1] as number) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      start = at + 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      start = at + 10;
    }
    if (start + length > bytes.length) throw new Error('truncated frame');
    out.push(bytes.subarray(start, start + length).toString('utf8'));
    at = start + length;
  }
  return out;
}

/** What each write to `m` held, decoded: one inner list per write. */
const received = (m: FakeMember) => m.writes.map(texts);

/**
 * A clock that stands still for the flush pacer: no flush seems to take time, so none is
 * followed by a pause, and every flush runs in the turn it was asked for, however busy the
 * machine (the pauses themselves are tested in flush-pacer.test.ts).
 */
const STILL = () => 0;

/** A rule that never cuts anyone in these tests, unless they set pending bytes on purpose. */
const lenient = () => new SlowConsumerRule({ softBytes: 1 << 20, graceMs: 1_000, ceilingBytes: 1 << 24 });

/** `slow`: the members handed to onSlow, which closes them as the raw transport does. */
function group(rule = lenient(), slow: FakeMember[] = []): BroadcastGroup<FakeMember> {
  return new BroadcastGroup<FakeMember>(
    rule,
    (m) => {
      slow.push(m);
      m.state = WebSocket.CLOSING;
    },
    STILL,
  );
}

describe('BroadcastGroup', () => {
  it('writes the frames of a turn at its end, concatenated in order, once per member', async () => {
    const all = group();
    const ann = member('ann');
    const bob = member('bob');
    all.add(ann);
    all.add(bob);
    expect(all.publish('one')).toBe(2);
    all.publish('two ü'); // UTF-8, framed as bytes
    all.publish('x'.repeat(300)); // a 16-bit length
    expect(ann.writes).toEqual([]); // nothing before the end of the turn
    await nextTurn();
    for (const m of [ann, bob]) expect(received(m)).toEqual([['one', 'two ü', 'x'.repeat(300)]]);
  });

  it('gives a member added mid-turn only the frames published after it joined', async () => {
    const all = group();
    const ann = member('ann');
    const bob = member('bob');
    const cid = member('cid');
    const dan = member('dan');
    all.add(ann);
    all.publish('x'.repeat(200)); // frames of different sizes: the offsets must be in bytes
    all.publish('a');
    all.add(bob);
    all.publish('b'.repeat(130));
    all.add(cid);
    all.publish('c');
    all.add(dan); // nothing after it: gets nothing this turn (no empty write)
    await nextTurn();
    expect(received(ann)).toEqual([['x'.repeat(200), 'a', 'b'.repeat(130), 'c']]);
    expect(received(bob)).toEqual([['b'.repeat(130), 'c']]);
    expect(received(cid)).toEqual([['c']]);
    expect(received(dan)).toEqual([]);

    // From the next turn on, the newcomers are members like the others.
    all.publish('d');
    all.publish('e');
    all.publish('f');
    all.flush();
    for (const m of [ann, bob, cid, dan]) expect(received(m).at(-1)).toEqual(['d', 'e', 'f']);
  });

  it('gives a removed member nothing more, not even what was published before it left', () => {
    const all = group();
    const ann = member('ann');
    const bob = member('bob');
    all.add(ann);
    all.add(bob);
    all.publish('one');
    all.flush();
    all.publish('two');
    all.delete(bob);
    expect(all.publish('three')).toBe(1);
    all.flush();
    all.publish('four');
    all.flush();
    expect(received(bob)).toEqual([['one']]);
    expect(received(ann)).toEqual([['one'], ['two', 'three'], ['four']]);
    expect(all.size).toBe(1);
  });

  it('queues nothing while it has no members: a later member does not get it', () => {
    const all = group();
    expect(all.publish('before anyone')).toBe(0);
    const ann = member('ann');
    all.add(ann);
    all.publish('after');
    all.flush();
    expect(received(ann)).toEqual([['after']]);
  });

  it('skips a member whose connection is closing', () => {
    const all = group();
    const ann = member('ann');
    const bob = member('bob');
    all.add(ann);
    all.add(bob);
    bob.state = WebSocket.CLOSING;
    all.publish('one');
    all.flush();
    expect(received(ann)).toEqual([['one']]);
    expect(received(bob)).toEqual([]);
  });

  it('hands a member that does not drain to onSlow, and stops writing to it once it is past its grace', () => {
    let ms = 1_000;
    const rule = new SlowConsumerRule({ softBytes: 100, graceMs: 500, ceilingBytes: 10_000 }, () => ms);
    const slow: FakeMember[] = [];
    const all = group(rule, slow);
    const ann = member('ann');
    const bob = member('bob');
    all.add(ann);
    all.add(bob);

    bob.pending = 200; // over the soft limit: kept for now, the clock starts
    all.publish('one');
    all.flush();
    expect(slow).toEqual([]);
    ms += 499;
    all.publish('two');
    all.flush();
    expect(slow).toEqual([]);
    ms += 1; // still not drained, grace over: cut before the write, nothing written
    all.publish('three');
    all.flush();
    expect(slow.map((m) => m.label)).toEqual(['bob']);
    expect(received(bob)).toEqual([['one'], ['two']]);
    expect(received(ann)).toEqual([['one'], ['two'], ['three']]);

    // Over the ceiling: cut at once, right after the write that got it there.
    ann.pending = 20_000;
    all.publish('four');
    all.flush();
    expect(slow.map((m) => m.label)).toEqual(['bob', 'ann']);
    expect(received(ann).at(-1)).toEqual(['four']);
    expect(received(bob)).toHaveLength(2);
  });
});
