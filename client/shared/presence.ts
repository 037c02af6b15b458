/**
 * Who is in a room, kept current on the client: it starts from the server's `presence`
 * event and then follows the join and leave notices, one connection up or down per
 * notice. A notice names its member by `user` with JWT (two users may show the same
 * name), by name without. Pure functions over plain values, so the page, the terminal
 * client and the tests all share it; nothing here talks to a socket.
 */
import type { Notice, Presence, PresenceMember } from '../../server/protocol.js';

export interface RoomPresence {
  /** The room's connection count, as the last event said. */
  readonly online: number;
  /** One entry per member (a user with JWT, a name without) with at least one connection, sorted by name. */
  readonly members: readonly PresenceMember[];
  /**
   * The newcomer's own join notice comes right after the `presence` event; this says
   * whether that notice is still to come (and so may already be counted).
   */
  readonly ownJoinPending: boolean;
}

/** Who a notice or a member is: a name, and with JWT a user. */
export interface MemberIdentity {
  readonly name: string;
  readonly user?: string | undefined;
}

/** Nobody known yet: before the first `presence` event, or over the raw endpoint. */
export const EMPTY_PRESENCE: RoomPresence = { online: 0, members: [], ownJoinPending: false };

/** Whether `member` is `who`: the same user when `who` has one, else the same name and no user. */
export function sameMember(member: MemberIdentity, who: MemberIdentity): boolean {
  return who.user === undefined ? member.user === undefined && member.name === who.name : member.user === who.user;
}

/** One key per member (see sameMember), for merging a list. */
function keyOf(member: MemberIdentity): string {
  return member.user === undefined ? `name:${member.name}` : `user:${member.user}`;
}

/** Code-unit order by name, then by user (none first): the same in every browser and in Node (unlike localeCompare). */
function byName(a: PresenceMember, b: PresenceMember): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  const [x, y] = [a.user ?? '', b.user ?? ''];
  return x === y ? 0 : x < y ? -1 : 1;
}

/**
 * The list as the server sent it, sorted here as well: the order must not depend on the
 * sender. A member listed twice is one, under the name it is listed with first.
 */
export function presenceFrom(presence: Presence): RoomPresence {
  const byKey = new Map<string, PresenceMember>();
  for (const member of presence.members) {
    if (!(member.connections > 0)) continue;
    const key = keyOf(member);
    const known = byKey.get(key);
    if (known === undefined) byKey.set(key, { ...member });
    else known.connections += member.connections;
  }
  return { online: presence.online, members: [...byKey.values()].sort(byName), ownJoinPending: true };
}

/**
 * The list after `notice`: a join adds one connection to its member, a leave takes one
 * away and drops the member at zero. A leave for a member the list does not have (one the
 * server left out of a very long list) changes only the count.
 *
 * `own` marks this client's own join. The `presence` snapshot may or may not count this
 * connection already; it does if the join does not raise the online count above the
 * snapshot's, and then the join is not counted twice.
 */
export function applyNotice(state: RoomPresence, notice: Notice, own: boolean): RoomPresence {
  const isOwnJoin = own && notice.kind === 'join';
  if (isOwnJoin && state.ownJoinPending && notice.online <= state.online) {
    return { ...state, online: notice.online, ownJoinPending: false };
  }
  const members = adjust(state.members, notice, notice.kind === 'join' ? 1 : -1);
  return { online: notice.online, members, ownJoinPending: state.ownJoinPending && !isOwnJoin };
}

/** A member keeps the name it was listed with: a user's later connections may show another. */
function adjust(members: readonly PresenceMember[], who: Notice, delta: 1 | -1): readonly PresenceMember[] {
  const index = members.findIndex((member) => sameMember(member, who));
  if (index === -1) {
    if (delta < 0) return members;
    const added: PresenceMember = who.user === undefined ? { name: who.name, connections: 1 } : { name: who.name, user: who.user, connections: 1 };
    return [...members, added].sort(byName);
  }
  const current = members[index] as PresenceMember;
  const connections = current.connections + delta;
  const next = [...members];
  if (connections <= 0) next.splice(index, 1);
  else next[index] = { ...current, connections };
  return next;
}
