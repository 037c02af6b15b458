import { isDeleted, MAX_EMOJI_BYTES, type ChatMessage, type HistoryMessage } from '../protocol';
import type { Actor, ChangeRefusal, ChangeResult } from './message-store';

/** What a message becomes with `change` made to it (a new object: histories share messages). */
export function changed(message: HistoryMessage, change: ChangeResult): HistoryMessage {
  if (isDeleted(message)) return message;
  switch (change.kind) {
    case 'edit':
      return { ...message, text: change.text, version: change.version, editedAt: change.editedAt };
    case 'delete':
      return tombstoneOf(message);
    case 'reaction':
      return withReactionCount(message, change.emoji, change.count);
    case 'read':
      return message;
  }
}

/** Where `message` was: its id and time remain. */
export function tombstoneOf(message: { id: string; at: number }): HistoryMessage {
  return { id: message.id, at: message.at, deleted: true };
}

/** `message` with `count` reactions of `emoji` (none: the emoji goes; no emoji left: the field goes). */
export function withReactionCount(message: ChatMessage, emoji: string, count: number): ChatMessage {
  const reactions = { ...message.reactions };
  if (count > 0) reactions[emoji] = count;
  else delete reactions[emoji];
  const { reactions: _old, ...rest } = message;
  return Object.keys(reactions).length === 0 ? rest : { ...rest, reactions };
}

/** Whether `emoji` may be a reaction: 1-32 bytes of UTF-8, not blank, no control characters, not `__proto__`. */
export function isEmoji(emoji: unknown): emoji is string {
  if (typeof emoji !== 'string' || emoji.trim() === '' || emoji.length > MAX_EMOJI_BYTES) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(emoji) || !emoji.isWellFormed()) return false;
  // A key of the `reactions` object: this one would set its prototype instead.
  if (emoji === '__proto__') return false;
  return Buffer.byteLength(emoji, 'utf8') <= MAX_EMOJI_BYTES;
}

/**
 * Whether `by` may edit or delete `message` (undefined: not stored): null when it may,
 * else why not. A tombstone is no message any more.
 */
export function refusalFor(message: HistoryMessage | undefined, by: Actor): ChangeRefusal | null {
  if (message === undefined || isDeleted(message)) return 'not_found';
  if (by === 'any') return null;
  if (by === 'none') return 'forbidden';
  return message.user === by.user ? null : 'forbidden';
}
