import type { Request } from 'express';
import { z } from 'zod';
import { isRoomName } from '../../protocol';
import { chatTextError, wellFormed } from '../../room/chat-text';
import { displayName } from '../../room/names';
import { isMessageId } from '../../store/message-id';
import { ApiError, ApiErrorCode } from './errors';
import { isIdempotencyKey } from './idempotency';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** The name of a message posted without one. */
export const API_NAME = 'api';
/** The longest user in `/users/<user>/`, in characters: a JWT `sub` or a display name. */
export const MAX_USER_LENGTH = 256;

// Digits only: Number() would take " 5", "1e2" and "0x10".
const limitSchema = z
  .string()
  .regex(/^\d{1,4}$/)
  .transform(Number)
  .pipe(z.number().min(1).max(MAX_LIMIT))
  .default(DEFAULT_LIMIT);
const idSchema = z.string().refine(isMessageId).optional();
const afterSchema = z.string().refine(isRoomName).optional();
// Strict: a misspelt field (`txt`, `user`) is an error, not a message posted without it.
const postSchema = z.strictObject({ text: z.string(), name: z.string().optional() });
const editSchema = z.strictObject({ text: z.string() });

/** A history read: after `since`, or the newest before `before` (never both), or the newest. */
export interface HistoryQuery {
  since: string | undefined;
  before: string | undefined;
  limit: number;
}

export interface RoomListQuery {
  /** The last room of the page before: this page starts after it. */
  after: string | undefined;
  limit: number;
}

export interface PostInput {
  name: string;
  text: string;
}

/** The room named in the path, well-formed. */
export function roomOf(req: Request): string {
  const room = req.params.room;
  if (typeof room !== 'string' || !isRoomName(room)) throw new ApiError(400, ApiErrorCode.InvalidRoom);
  return room;
}

/** The message id in the path, of the `<ms>-<seq>` shape (whether it exists is the store's to say). */
export function messageIdOf(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !isMessageId(id)) throw new ApiError(400, ApiErrorCode.InvalidId);
  return id;
}

/**
 * The user in the path, decoded: a JWT `sub`, or without JWT a display name, so any text
 * of 1 to MAX_USER_LENGTH characters (it is only looked up, never shown).
 */
export function userOf(req: Request): string {
  const user = req.params.user;
  if (typeof user !== 'string' || user === '' || [...user].length > MAX_USER_LENGTH) throw new ApiError(400, ApiErrorCode.InvalidUser);
  return user;
}

/** `?limit=<n>`, 1 to MAX_LIMIT (a repeated parameter is an array: refused). */
export function limitOf(req: Request): number {
  const limit = limitSchema.safeParse((req.query as Record<string, unknown>).limit);
  if (!limit.success) throw new ApiError(400, ApiErrorCode.InvalidLimit);
  return limit.data;
}

/** `?since=<id>` or `?before=<id>`, and `&limit=<n>`, of a history read. */
export function historyQueryOf(req: Request): HistoryQuery {
  const query = req.query as Record<string, unknown>;
  const limit = limitOf(req);
  const since = idSchema.safeParse(query.since);
  if (!since.success) throw new ApiError(400, ApiErrorCode.InvalidSince);
  const before = idSchema.safeParse(query.before);
  // Both would ask for two different pages: which one was meant cannot be told.
  if (!before.success || (before.data !== undefined && since.data !== undefined)) throw new ApiError(400, ApiErrorCode.InvalidBefore);
  return { since: since.data, before: before.data, limit };
}

/** `?after=<room>&limit=<n>` of a room listing. */
export function roomListQueryOf(req: Request): RoomListQuery {
  const limit = limitOf(req);
  const after = afterSchema.safeParse((req.query as Record<string, unknown>).after);
  if (!after.success) throw new ApiError(400, ApiErrorCode.InvalidAfter);
  return { after: after.data, limit };
}

/** The Idempotency-Key header, if any. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !isIdempotencyKey(key)) throw new ApiError(400, ApiErrorCode.InvalidIdempotencyKey);
  return key;
}

/** A POST body checked the way a Socket.IO `chat` is, its name cleaned like a client's. */
export function postInputOf(body: unknown, maxMessageBytes: number): PostInput {
  const parsed = postSchema.safeParse(body);
  if (!parsed.success) throw new ApiError(400, ApiErrorCode.InvalidType);
  const { text, name } = parsed.data;
  checkText(text, maxMessageBytes);
  return { text, name: name === undefined ? API_NAME : displayName(name) };
}

/** A PATCH body's new text, checked as a post's is and made well-formed as a post's is when stored. */
export function editTextOf(body: unknown, maxMessageBytes: number): string {
  const parsed = editSchema.safeParse(body);
  if (!parsed.success) throw new ApiError(400, ApiErrorCode.InvalidType);
  checkText(parsed.data.text, maxMessageBytes);
  return wellFormed(parsed.data.text);
}

function checkText(text: string, maxMessageBytes: number): void {
  const error = chatTextError(text, maxMessageBytes);
  if (error === 'too_large') throw new ApiError(413, ApiErrorCode.TooLarge);
  if (error !== null) throw new ApiError(400, error === 'empty' ? ApiErrorCode.Empty : ApiErrorCode.InvalidType);
}
