import type { ChatMessage } from '../protocol';
import { MessageIdGenerator } from './message-id';

/**
 * Where messages get their ids and are kept, per room: the one seam between a room and
 * its storage. The room does not know which store it has.
 *
 * Either method may answer at once (a value) or later (a promise): in memory nothing
 * needs waiting for, and the room then publishes a message in the same turn, without a
 * promise per message on the hot path.
 */
export interface MessageStore {
  /** A new message of `room`: its id (unique across rooms, increasing within one) and time, stored. */
  stamp(room: string, name: string, text: string): ChatMessage | Promise<ChatMessage>;
  /** What the store keeps of `room`, oldest first, for a room coming into memory. */
  load(room: string): readonly ChatMessage[] | Promise<readonly ChatMessage[]>;
}

/**
 * Ids from one generator for every room, so they are unique across rooms; nothing kept
 * beyond the room's own history in memory (a room that leaves memory takes it along).
 */
export class MemoryStore implements MessageStore {
  constructor(private readonly ids: MessageIdGenerator = new MessageIdGenerator()) {}

  stamp(_room: string, name: string, text: string): ChatMessage {
    const { id, at } = this.ids.next();
    return { id, text, name, at };
  }

  load(): readonly ChatMessage[] {
    return [];
  }
}
