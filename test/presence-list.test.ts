import { JOIN_TEXT, LEAVE_TEXT, type Notice, type Presence } from '../server/protocol';
import { EMPTY_PRESENCE, applyNotice, presenceFrom, type RoomPresence } from '../client/shared/presence';

function join(name: string, online: number): Notice {
  return { kind: 'join', text: JOIN_TEXT, name, online, at: 0 };
}

function leave(name: string, online: number): Notice {
  return { kind: 'leave', text: LEAVE_TEXT, name, online, at: 0 };
}

/** The names and counts only: what the page shows. */
function shown(state: RoomPresence): [string, number][] {
  return state.members.map((member) => [member.name, member.connections]);
}

/** A snapshot that already counts this client (`me`), followed by its own join. */
function joinedAs(me: string, others: Presence['members']): RoomPresence {
  const members = [...others, { name: me, connections: 1 }];
  const online = members.reduce((sum, member) => sum + member.connections, 0);
  return applyNotice(presenceFrom({ online, members }), join(me, online), true);
}

describe('presence list', () => {
  it('starts from the presence event, sorted by name whatever order it came in', () => {
    const state = presenceFrom({
      online: 4,
      members: [
        { name: 'carol', connections: 1 },
        { name: 'Zed', connections: 1 },
        { name: 'alice', connections: 2 },
      ],
    });
    expect(state.online).toBe(4);
    expect(shown(state)).toEqual([['Zed', 1], ['alice', 2], ['carol', 1]]);
  });

  it('adds a connection per join and takes one away per leave, dropping a name at zero', () => {
    let state = joinedAs('me', [{ name: 'bob', connections: 1 }]);
    state = applyNotice(state, join('alice', 3), false);
    expect(shown(state)).toEqual([['alice', 1], ['bob', 1], ['me', 1]]);
    state = applyNotice(state, join('alice', 4), false);
    expect(shown(state)).toEqual([['alice', 2], ['bob', 1], ['me', 1]]);
    expect(state.online).toBe(4);

    state = applyNotice(state, leave('alice', 3), false);
    expect(shown(state)).toEqual([['alice', 1], ['bob', 1], ['me', 1]]);
    state = applyNotice(state, leave('alice', 2), false);
    state = applyNotice(state, leave('bob', 1), false);
    expect(shown(state)).toEqual([['me', 1]]);
    expect(state.online).toBe(1);
  });

  it('counts its own join once, whether or not the snapshot already had it', () => {
    const counted = joinedAs('me', [{ name: 'bob', connections: 1 }]);
    expect(shown(counted)).toEqual([['bob', 1], ['me', 1]]);
    expect(counted.online).toBe(2);

    const notCounted = applyNotice(presenceFrom({ online: 1, members: [{ name: 'bob', connections: 1 }] }), join('me', 2), true);
    expect(shown(notCounted)).toEqual([['bob', 1], ['me', 1]]);
    expect(notCounted.online).toBe(2);
  });

  it('counts another connection under the same name as that name\'s second one', () => {
    // This client is alice's second tab; the snapshot has both.
    const state = applyNotice(presenceFrom({ online: 2, members: [{ name: 'alice', connections: 2 }] }), join('alice', 2), true);
    expect(shown(state)).toEqual([['alice', 2]]);
    // Later joins are other people's, even with the same count as before (a leave missed).
    expect(shown(applyNotice(state, join('alice', 2), false))).toEqual([['alice', 3]]);
  });

  it('treats only the first join after the snapshot as possibly counted', () => {
    let state = joinedAs('me', []);
    state = applyNotice(state, join('me', 1), true); // a reconnection without a new snapshot
    expect(shown(state)).toEqual([['me', 2]]);
  });

  it('ignores a leave for a name it does not list, apart from the count', () => {
    const state = applyNotice(joinedAs('me', []), leave('stranger', 1), false);
    expect(shown(state)).toEqual([['me', 1]]);
    expect(state.online).toBe(1);
  });

  it('drops members listed with no connections, and leaves its input alone', () => {
    const presence: Presence = {
      online: 1,
      members: [
        { name: 'ghost', connections: 0 },
        { name: 'me', connections: 1 },
      ],
    };
    const before = JSON.stringify(presence);
    const state = presenceFrom(presence);
    expect(shown(state)).toEqual([['me', 1]]);
    const after = applyNotice(applyNotice(state, join('me', 1), true), leave('me', 0), false);
    expect(shown(after)).toEqual([]);
    expect(shown(state)).toEqual([['me', 1]]);
    expect(JSON.stringify(presence)).toBe(before);
  });

  it('knows nobody before the first presence event', () => {
    expect(EMPTY_PRESENCE.members).toEqual([]);
    expect(shown(applyNotice(EMPTY_PRESENCE, join('bob', 1), false))).toEqual([['bob', 1]]);
  });
});

describe('presence list with users (JWT)', () => {
  const joinOf = (name: string, user: string, online: number): Notice => ({ ...join(name, online), user });
  const leaveOf = (name: string, user: string, online: number): Notice => ({ ...leave(name, online), user });
  const rows = (state: RoomPresence) => state.members.map((member) => [member.name, member.user, member.connections]);

  it('keys members on the user: two users with one name are two rows, by name then user, and a leave takes the right one away', () => {
    let state = presenceFrom({
      online: 2,
      members: [
        { name: 'alice', user: 'user-2', connections: 1 },
        { name: 'alice', user: 'user-1', connections: 1 },
      ],
    });
    expect(rows(state)).toEqual([
      ['alice', 'user-1', 1],
      ['alice', 'user-2', 1],
    ]);
    state = applyNotice(state, joinOf('alice', 'user-3', 3), false);
    state = applyNotice(state, leaveOf('alice', 'user-1', 2), false);
    state = applyNotice(state, joinOf('alice', 'user-2', 3), false);
    expect(rows(state)).toEqual([
      ['alice', 'user-2', 2],
      ['alice', 'user-3', 1],
    ]);
    expect(state.online).toBe(3);
  });

  it('counts a user’s connections in one row, under the name of the first, whatever name the others show', () => {
    let state = applyNotice(EMPTY_PRESENCE, joinOf('alice', 'user-1', 1), false);
    state = applyNotice(state, joinOf('Alice B.', 'user-1', 2), false);
    expect(rows(state)).toEqual([['alice', 'user-1', 2]]);
    state = applyNotice(state, leaveOf('alice', 'user-1', 1), false);
    expect(rows(state)).toEqual([['alice', 'user-1', 1]]);
  });

  it('makes one row of a user that a presence lists twice', () => {
    const state = presenceFrom({
      online: 3,
      members: [
        { name: 'alice', user: 'user-1', connections: 1 },
        { name: 'bob', user: 'user-2', connections: 1 },
        { name: 'zed', user: 'user-1', connections: 1 },
      ],
    });
    expect(rows(state)).toEqual([
      ['alice', 'user-1', 2],
      ['bob', 'user-2', 1],
    ]);
  });
});
