import { MAX_PRESENCE_MEMBERS } from '../server/protocol';
import { mergePresence, PresenceCount } from '../server/room/presence';

describe('PresenceCount', () => {
  it('counts connections per name, and a leave takes one away', () => {
    const count = new PresenceCount();
    count.add('ann');
    count.add('ann');
    count.add('bob');
    count.remove('ann');
    expect(count.online).toBe(2);
    expect(count.entries()).toEqual([
      ['ann', 1],
      ['bob', 1],
    ]);
  });

  it('ignores the leave of a name it never counted, so the total keeps matching the names', () => {
    const count = new PresenceCount();
    count.add('ann');
    count.remove('cid'); // another node's leave whose join was missed
    expect(count.online).toBe(1);
    expect(count.entries()).toEqual([['ann', 1]]);
  });
});

describe('mergePresence', () => {
  const count = (...names: string[]) => {
    const presence = new PresenceCount();
    for (const name of names) presence.add(name);
    return presence;
  };

  it('sorts members by name, however they came and went', () => {
    const here = count('mia', 'bob', 'zoe', 'ann', 'Bea', 'bob');
    here.remove('zoe');
    here.add('cid');
    here.remove('ann');
    expect(mergePresence([here])).toEqual({
      online: 5,
      members: [
        { name: 'Bea', connections: 1 }, // code-unit order: upper case first
        { name: 'bob', connections: 2 },
        { name: 'cid', connections: 1 },
        { name: 'mia', connections: 1 },
      ],
    });
  });

  it('sums a name present on several nodes, and keeps every node’s names in one order', () => {
    const here = count('ann', 'cid');
    const other = PresenceCount.from([
      ['cid', 2],
      ['bob', 1],
    ]);
    const third = PresenceCount.from([['ann', 1]]);
    expect(mergePresence([here, other, third, new PresenceCount()])).toEqual({
      online: 6,
      members: [
        { name: 'ann', connections: 2 },
        { name: 'bob', connections: 1 },
        { name: 'cid', connections: 3 },
      ],
    });
  });

  it(`lists the first ${MAX_PRESENCE_MEMBERS} names and keeps online exact`, () => {
    const names = Array.from({ length: MAX_PRESENCE_MEMBERS + 50 }, (_, i) => `guest-${String(i).padStart(4, '0')}`);
    const here = count(...[...names].reverse());
    const other = count('guest-0000');
    const { online, members } = mergePresence([here, other]);
    expect(online).toBe(names.length + 1);
    expect(members.map((member) => member.name)).toEqual(names.slice(0, MAX_PRESENCE_MEMBERS));
    expect(members[0]).toEqual({ name: 'guest-0000', connections: 2 });
  });
});

describe('PresenceCount with users (JWT)', () => {
  it('counts per user: two users with one name are two members, a user with two connections one', () => {
    const count = new PresenceCount();
    count.add('alice', 'user-2');
    count.add('alice', 'user-1');
    count.add('alice', 'user-1');
    count.add('bob', 'user-0');
    count.remove('alice', 'user-2');
    expect(count.online).toBe(3);
    expect(count.entries()).toEqual([
      ['alice', 2, 'user-1'],
      ['bob', 1, 'user-0'],
    ]);
    expect(count.connectionsOf('alice', 'user-1')).toBe(2);
    expect(count.connectionsOf('alice', 'user-2')).toBe(0);
  });

  it('lists a user under the name of its first connection, whatever name the next ones show', () => {
    const count = new PresenceCount();
    count.add('alice', 'user-1');
    count.add('Alice B.', 'user-1');
    count.remove('alice', 'user-1');
    expect(count.entries()).toEqual([['alice', 1, 'user-1']]);
    count.remove('Alice B.', 'user-1');
    expect(count.entries()).toEqual([]);
    expect(count.online).toBe(0);
  });

  it('reads the user of each entry of another node’s report', () => {
    const count = PresenceCount.from([
      ['alice', 1, 'user-2'],
      ['alice', 2, 'user-1'],
      ['bob', 1],
      ['carol', 1, 7], // not a user: skipped
    ]);
    expect(count.online).toBe(4);
    expect(count.entries()).toEqual([
      ['alice', 2, 'user-1'],
      ['alice', 1, 'user-2'],
      ['bob', 1],
    ]);
  });

  it('merges nodes per user: sorted by name then user, a user on two nodes summed', () => {
    const here = new PresenceCount();
    here.add('alice', 'user-2');
    here.add('zed', 'user-9');
    const other = PresenceCount.from([
      ['alice', 1, 'user-1'],
      ['alice', 1, 'user-2'],
    ]);
    expect(mergePresence([here, other])).toEqual({
      online: 4,
      members: [
        { name: 'alice', user: 'user-1', connections: 1 },
        { name: 'alice', user: 'user-2', connections: 2 },
        { name: 'zed', user: 'user-9', connections: 1 },
      ],
    });
  });
});
