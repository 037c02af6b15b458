import { ActionError, ChatError, MAX_HISTORY_PAGE, type ActionErrorCode, type ReactRequest } from '../protocol';
import { chatTextError } from '../room/chat-text';
import { isEmoji } from '../store/changes';
import { isMessageId } from '../store/message-id';

/**
 * The checks of what a client asks for besides chat, the same on every wire: each takes
 * what arrived (any JSON) and answers the request it makes, or the refusal to send back.
 */

/** A history page with no `limit`. */
export const DEFAULT_HISTORY_PAGE = 50;

type Checked<T> = T | { error: ActionErrorCode };

export function isRequestRefusal<T extends object>(checked: Checked<T>): checked is { error: ActionErrorCode } {
  return 'error' in checked;
}

const INVALID = { error: ActionError.Invalid } as const;

function fieldsOf(request: unknown): Record<string, unknown> | null {
  return typeof request === 'object' && request !== null && !Array.isArray(request) ? (request as Record<string, unknown>) : null;
}

/** `{ id }` with a well-formed message id. */
export function idRequest(request: unknown): Checked<{ id: string }> {
  const id = fieldsOf(request)?.id;
  return typeof id === 'string' && isMessageId(id) ? { id } : INVALID;
}

/** `{ id, text }`, the text checked as a chat's (MAX_MESSAGE_BYTES, not blank). */
export function editRequest(request: unknown, maxMessageBytes: number): Checked<{ id: string; text: string }> {
  const target = idRequest(request);
  if (isRequestRefusal(target)) return target;
  const text = (request as Record<string, unknown>).text;
  const error = chatTextError(text, maxMessageBytes);
  if (error === ChatError.Empty) return { error: ActionError.Empty };
  if (error === ChatError.TooLarge) return { error: ActionError.TooLarge };
  if (error !== null) return INVALID;
  return { id: target.id, text: text as string };
}

/** `{ id, emoji, on }`: an emoji of 1-32 bytes, `on` a boolean. */
export function reactRequest(request: unknown): Checked<ReactRequest> {
  const target = idRequest(request);
  if (isRequestRefusal(target)) return target;
  const { emoji, on } = request as Record<string, unknown>;
  if (!isEmoji(emoji) || typeof on !== 'boolean') return INVALID;
  return { id: target.id, emoji, on };
}

/** `{ before?, limit? }`: a message id, and 1-200 (DEFAULT_HISTORY_PAGE when absent). */
export function historyRequest(request: unknown): Checked<{ before: string | undefined; limit: number }> {
  const fields = request === undefined ? {} : fieldsOf(request);
  if (fields === null) return INVALID;
  const { before, limit = DEFAULT_HISTORY_PAGE } = fields;
  if (before !== undefined && (typeof before !== 'string' || !isMessageId(before))) return INVALID;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_PAGE) return INVALID;
  return { before, limit };
}
