import type { WorkerGroup } from './fleet';
import { joinNotices } from './fleet';
import type { ClientKind } from './ipc';
import type { Profile } from './profiles';
import type { Talkers } from './room-trial';

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
 * The clients of `profile.manyRooms`, all of one kind: two workers, each dealing its
 * clients into every room in turn (its client i joins room i % rooms), the first worker
 * with the larger half of each room. So each worker's first `rooms` clients are one per room.
 */
export function manyRoomGroups(kind: ClientKind, profile: Profile): WorkerGroup[] {
  const { rooms, clientsPerRoom } = profile.manyRooms;
  if (clientsPerRoom < WORKERS) throw new Error(`profile ${profile.name}: ${clientsPerRoom} clients a room, fewer than ${WORKERS}`);
  const names = roomNames(rooms);
  const half = Math.floor(clientsPerRoom / 2);
  return [
    { kind, count: rooms * (clientsPerRoom - half), rooms: names },
    { kind, count: rooms * half, rooms: names },
  ];
}

/**
 * One talker per room, for the latency probe and the fan-out alike: room r's is client r
 * of worker r % 2 (each worker's client r is in room r), so half the rooms talk from each
 * worker. In the fan-out each talker keeps `window` messages in flight.
 */
export function manyRoomTalkers(profile: Profile, window: number): Talkers {
  const { rooms, clientsPerRoom } = profile.manyRooms;
  const talkers = (worker: number) => Array.from({ length: rooms }, (_, room) => room).filter((room) => room % WORKERS === worker);
  return {
    rooms,
    latency: talkers,
    fanout: talkers,
    window,
    audience: clientsPerRoom,
    // One process announces each join to the clients of its room present, newcomer included.
    notices: rooms * joinNotices(clientsPerRoom),
  };
}
