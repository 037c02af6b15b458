/**
 * Fakes for the room layer's unit tests, which run with no sockets: sinks that record
 * what a room publishes, and an in-memory store.
 */
import type { ChatMessage, Notice } from '../../server/protocol';
import type { RoomSink } from '../../server/room/room-seams';
import { MemoryStore } from '../../server/store/memory-store';

/**
 * Records what a room publishes into `events`, as one list of `<label>chat:<text>` and
 * `<label><kind>:<name>` lines. `clusterWide`: as Socket.IO's sink (see RoomSink).
 */
export function recordingSink(events: string[], label = '', clusterWide = false): RoomSink {
  return {
    chat: (message: ChatMessage) => events.push(`${label}chat:${message.text}`),
    notice: (notice: Notice) => events.push(`${label}${notice.kind}:${notice.name}`),
    clusterWide,
  };
}

/** A store in memory that answers at once, as `DATA_DIR=:memory:` does. */
export const memoryStore = () => new MemoryStore({ keep: 100, maxBytes: 1 << 20 });
