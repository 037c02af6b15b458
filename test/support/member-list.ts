import { EMPTY_PRESENCE, applyNotice, presenceFrom, type RoomPresence } from '../../client/shared/presence';
import type { Notice, RawJsonFrame } from '../../server/protocol';
import type { RawTestClient } from './raw-client';
import type { SioTestClient } from './sio-client';

/**
 * The member lists clients keep from what they are told, folded with the clients' own
 * code (client/shared/presence.ts) from everything a test client has received so far.
 * Nothing is taken from its queues, so a test may ask again later.
 */

/** The join and leave notices a raw JSON client has received, in order. */
export function noticesOfRaw(client: RawTestClient): Notice[] {
  const notices: Notice[] = [];
  for (const text of client.messages.pending) {
    const frame = JSON.parse(text) as RawJsonFrame;
    if (frame.type !== 'notice') continue;
    const { type: _type, ...notice } = frame;
    notices.push(notice);
  }
  return notices;
}

/**
 * A raw JSON client's list: raw clients get no `presence`, so the list starts empty at
 * its own join and holds everyone only if it joined before them.
 */
export function listOfRaw(client: RawTestClient): RoomPresence {
  return noticesOfRaw(client).reduce((state, notice) => applyNotice(state, notice, false), EMPTY_PRESENCE);
}

/** A Socket.IO client's list: its `presence` event, then every notice after it (the first join its own). */
export function listOfSio(client: SioTestClient): RoomPresence {
  const snapshot = client.presences.pending.at(-1);
  if (snapshot === undefined) return EMPTY_PRESENCE;
  let state = presenceFrom(snapshot);
  let ownPending = true;
  for (const notice of client.notices.pending) {
    state = applyNotice(state, notice, ownPending && notice.kind === 'join');
    if (notice.kind === 'join') ownPending = false;
  }
  return state;
}

/** One row per member: `name`, `name (user)` with JWT, then ` ×n` for n connections. */
export function shown(state: RoomPresence): string[] {
  return state.members.map((member) => {
    const who = member.user === undefined ? member.name : `${member.name} (${member.user})`;
    return member.connections > 1 ? `${who} ×${member.connections}` : who;
  });
}
