import type { Request } from 'express';
import { z } from 'zod';
import { isRoomName } from '../../protocol';
import { chatTextError } from '../../room/chat-text';
import { displayName } from '../../room/names';
import { isMessageId } from '../../store/message-id';
import { ApiError, ApiErrorCode } from './errors';
import { isIdempotencyKey } from './idempotency';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** The name of a message posted without one. */
export const API_NAME = 'api';

// Digits only: Number() would take " 5", "1e2" and "0x10".
const limitSchema = z
  .string()
  .regex(/^\d{1,4}$/)
  .transform(Number)
  .pipe(z.number().min(1).max(MAX_LIMIT))
  .default(DEFAULT_LIMIT);
const sinceSchema = z.string().refine(isMessageId).optional();
const afterSchema = z.string().refine(isRoomName).optional();
// Strict: a misspelt field (`txt`, `user`) is an error, not a message posted without it.
const postSchema = z.strictObject({ text: z.string(), name: z.string().optional() });

export interface HistoryQuery {
  since: string | undefined;
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

/** `?since=<id>&limit=<n>` of a history read (a repeated parameter is an array: refused). */
export function historyQueryOf(req: Request): HistoryQuery {
  const query = req.query as Record<string, unknown>;
  const limit = limitSchema.safeParse(query.limit);
  if (!limit.success) throw new ApiError(400, ApiErrorCode.InvalidLimit);
  const since = sinceSchema.safeParse(query.since);
  if (!since.success) throw new ApiError(400, ApiErrorCode.InvalidSince);
  return { since: since.data, limit: limit.data };
}

/** `?after=<room>&limit=<n>` of a room listing (a repeated parameter is an array: refused). */
export function roomListQueryOf(req: Request): RoomListQuery {
  const query = req.query as Record<string, unknown>;
  const limit = limitSchema.safeParse(query.limit);
  if (!limit.success) throw new ApiError(400, ApiErrorCode.InvalidLimit);
  const after = afterSchema.safeParse(query.after);
  if (!after.success) throw new ApiError(400, ApiErrorCode.InvalidAfter);
  return { after: after.data, limit: limit.data };
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
  const error = chatTextError(text, maxMessageBytes);
  if (error === 'too_large') throw new ApiError(413, ApiErrorCode.TooLarge);
  if (error !== null) throw new ApiError(400, error === 'empty' ? ApiErrorCode.Empty : ApiErrorCode.InvalidType);
  return { text, name: name === undefined ? API_NAME : displayName(name) };
}
