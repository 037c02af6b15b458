/**
 * Who is in a room, kept current on the client: it starts from the server's `presence`
 * event and then follows the join and leave notices, one connection up or down per
 * notice, by name. Pure functions over plain values, so the page, the terminal client and
 * the tests all share it; nothing here talks to a socket.
 */
import type { Notice, Presence, PresenceMember } from '../../server/protocol.js';

export interface RoomPresence {
  /** The room's connection count, as the last event said. */
  readonly online: number;
  /** One entry per name with at least one connection, sorted by name. */
  readonly members: readonly PresenceMember[];
  /**
   * The newcomer's own join notice comes right after the `presence` event; this says
   * whether that notice is still to come (and so may already be counted).
   */
  readonly ownJoinPending: boolean;
}

/** Nobody known yet: before the first `presence` event, or over the raw endpoint. */
export const EMPTY_PRESENCE: RoomPresence = { online: 0, members: [], ownJoinPending: false };

/** Code-unit order, the same in every browser and in Node (unlike localeCompare). */
function byName(a: PresenceMember, b: PresenceMember): number {
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

/** The list as the server sent it, sorted here as well: the order must not depend on the sender. */
export function presenceFrom(presence: Presence): RoomPresence {
  const members = presence.members.filter((member) => member.connections > 0).map((member) => ({ ...member }));
  return { online: presence.online, members: members.sort(byName), ownJoinPending: true };
}

/**
 * The list after `notice`: a join adds one connection to its name, a leave takes one away
 * and drops the name at zero. A leave for a name the list does not have (one the server
 * left out of a very long list) changes only the count.
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
  const members = adjust(state.members, notice.name, notice.kind === 'join' ? 1 : -1);
  return { online: notice.online, members, ownJoinPending: state.ownJoinPending && !isOwnJoin };
}

function adjust(members: readonly PresenceMember[], name: string, delta: 1 | -1): readonly PresenceMember[] {
  const index = members.findIndex((member) => member.name === name);
  if (index === -1) {
    if (delta < 0) return members;
    return [...members, { name, connections: 1 }].sort(byName);
  }
  const current = members[index] as PresenceMember;
  const connections = current.connections + delta;
  const next = [...members];
  if (connections <= 0) next.splice(index, 1);
  else next[index] = { name, connections };
  return next;
}
