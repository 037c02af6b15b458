import { ChatError, type ChatErrorCode } from '../protocol';

/**
 * `text` with every lone surrogate (half of a UTF-16 pair: JSON can carry one, UTF-8
 * cannot) replaced by U+FFFD, as a UTF-8 encoder would store it. Applied to every text and
 * name as it arrives, so that live clients see what history and the API show later.
 */
export function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/**
 * Checks the text of a Socket.IO `chat` before it is stamped and broadcast.
 * Returns the error code to put in the ack, or null when the text may go out.
 * Raw frames need no such check: `ws` already refuses binary, oversize and
 * invalid UTF-8 frames, and the seed broadcasts every text frame verbatim.
 */
export function chatTextError(text: unknown, maxBytes: number): ChatErrorCode | null {
  if (typeof text !== 'string') return ChatError.InvalidType;
  if (text.trim() === '') return ChatError.Empty;
  // text.length counts UTF-16 units, which is at least a third of the UTF-8 size:
  // only a string that might be too large pays for the exact count.
  if (text.length * 3 > maxBytes && Buffer.byteLength(text, 'utf8') > maxBytes) {
    return ChatError.TooLarge;
  }
  return null;
}
