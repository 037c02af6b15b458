import type { RequestHandler, Response } from 'express';

/** Every `error` code the HTTP API answers with. Stable: backends may switch on these. */
export const ApiErrorCode = {
  Unauthorized: 'unauthorized',
  Disabled: 'api_disabled',
  NotFound: 'not_found',
  MethodNotAllowed: 'method_not_allowed',
  InvalidJson: 'invalid_json',
  InvalidType: 'invalid_type',
  Empty: 'empty',
  InvalidRoom: 'invalid_room',
  InvalidLimit: 'invalid_limit',
  InvalidSince: 'invalid_since',
  InvalidAfter: 'invalid_after',
  InvalidBefore: 'invalid_before',
  InvalidId: 'invalid_id',
  InvalidUser: 'invalid_user',
  /** A ban or a kick of the wrong shape: no user and no ip (or both), a malformed address or room, a time in the past. */
  InvalidBan: 'invalid_ban',
  InvalidIdempotencyKey: 'invalid_idempotency_key',
  IdempotencyKeyReused: 'idempotency_key_reused',
  TooLarge: 'too_large',
  // The API acts as admin, so the store refuses none of its edits and deletes for these;
  // they are here so that every refusal of a change has its answer.
  Forbidden: 'forbidden',
  TooManyReactions: 'too_many_reactions',
  UnsupportedMediaType: 'unsupported_media_type',
  RateLimited: 'rate_limited',
  Unavailable: 'unavailable',
  RoomLimit: 'room_limit',
  Internal: 'internal',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** 405 with the methods the path takes. */
export function methodNotAllowed(allow: string): RequestHandler {
  return (_req, res) => {
    res.set('Allow', allow);
    sendError(res, 405, ApiErrorCode.MethodNotAllowed);
  };
}

/** A request the API refuses, thrown from anywhere in a handler and answered by the router's error handler. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
  ) {
    super(code);
    this.name = 'ApiError';
  }
}

export function sendError(res: Response, status: number, code: ApiErrorCode): void {
  // Refused before its body was read to the end (401, 413, 415, a bad room): Node would
  // read the rest, however long, to keep the connection; it is closed instead.
  if (!res.req.complete) res.set('Connection', 'close');
  res.status(status).json({ error: code });
}
