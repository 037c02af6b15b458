import type { WorkerGroup } from './fleet';
import { joinNotices } from './fleet';
import type { ClientKind } from './ipc';
import type { Profile } from './profiles';
import type { Talkers } from './room-trial';

export type RoomKind = 'raw' | 'sio' | 'mixed';

/** Workers in a many-rooms trial: each room is split over both, as the one room is. */
const WORKERS = 2;

/**
 * The rooms' names. None is the lobby, so that every client names its room on the wire:
 * raw clients on `/socket/room-<i>`, Socket.IO clients in the namespace `/room-<i>`.
 */
export function roomNames(rooms: number): string[] {
  return Array.from({ length: rooms }, (_, i) => `room-${i}`);
}

/**
 * The clients of `profile.manyRooms`: two workers, each dealing its clients into every
 * room in turn (its client i joins room i % rooms), the first worker with the larger half
 * of each room. So a mixed room holds both kinds, as the one mixed room does, and each
 * worker's first `rooms` clients are one per room.
 */
export function manyRoomGroups(profile: Profile): Record<RoomKind, WorkerGroup[]> {
  const { rooms, clientsPerRoom } = profile.manyRooms;
  if (rooms * clientsPerRoom !== profile.roomClients || clientsPerRoom < WORKERS) {
    const need = `${profile.roomClients} clients, at least ${WORKERS} a room`;
    throw new Error(`profile ${profile.name}: ${rooms} rooms x ${clientsPerRoom} must be ${need}`);
  }
  const names = roomNames(rooms);
  const half = Math.floor(clientsPerRoom / 2);
  const pair = (first: ClientKind, second: ClientKind): WorkerGroup[] => [
    { kind: first, count: rooms * (clientsPerRoom - half), rooms: names },
    { kind: second, count: rooms * half, rooms: names },
  ];
  return { raw: pair('raw', 'raw'), sio: pair('sio', 'sio'), mixed: pair('raw', 'sio') };
}

/**
 * One talker per room, for the latency probe and the fan-out alike: room r's is client r
 * of worker r % 2 (each worker's client r is in room r), so half the rooms talk from
 * each worker, and both kinds talk in the mixed rooms. Both steps put the same load in
 * deliveries on the server as the one room of as many clients, carried by more messages:
 * - in the probe each talker sends `profile.latencyRate` messages/s, as the one room's
 *   single talker does: rooms x rate x clientsPerRoom = rate x roomClients deliveries/s;
 * - in the fan-out each talker keeps senders x window messages in flight, as many as the
 *   one room's senders together: rooms x that x clientsPerRoom = senders x window x
 *   roomClients deliveries in flight. With the one room's window of 8 a talker, 100 rooms
 *   of 10 would keep a tenth of that in flight, and the closed loop would measure the
 *   round trip of a message more than what the server can deliver.
 */
export function manyRoomTalkers(profile: Profile): Talkers {
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const talkers = (worker: number) => Array.from({ length: rooms }, (_, room) => room).filter((room) => room % WORKERS === worker);
  return {
    rooms,
    latency: talkers,
    fanout: talkers,
    window: profile.senders * profile.window,
    audience: clientsPerRoom,
    // One process announces each join to the clients of its room present, newcomer included.
    notices: rooms * joinNotices(clientsPerRoom),
  };
}
