import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../../support/metrics';
import { redactUrl } from '../../support/redact';
import { bearerMatches } from '../bearer';
import { bodyLimit, readJsonBody } from './body';
import { ApiError, ApiErrorCode, methodNotAllowed, sendError } from './errors';
import { IdempotencyCache, KEY_REUSED, postFingerprint } from './idempotency';
import { editTextOf, historyQueryOf, idempotencyKeyOf, limitOf, messageIdOf, postInputOf, roomListQueryOf, roomOf, userOf } from './input';
import { addModerationRoutes } from './moderation-routes';
import { RoomAccess, type RoomAccessOptions } from './room-access';
import type { Moderation } from '../../session/moderation';

export interface ApiOptions extends RoomAccessOptions {
  /** null: the API is off, every /api/ request gets 404 api_disabled. */
  apiKey: string | null;
  maxMessageBytes: number;
  /** Kicks, bans and mutes, which the API key makes as an admin. */
  moderation: Moderation;
  metrics: Metrics;
  logger: Logger;
}

/** The HTTP API for backends, mounted at /api (docs/http-api.md, docs/openapi.yaml). */
export function createApi(options: ApiOptions): Router {
  const router = express.Router();
  router.use(answerFreshly(options.metrics));
  const { apiKey } = options;
  if (apiKey === null) {
    router.use((_req, res) => sendError(res, 404, ApiErrorCode.Disabled));
    return router;
  }
  router.use(authorize(apiKey));
  addRoutes(router, options);
  addModerationRoutes(router, options.moderation, bodyLimit(options.maxMessageBytes));
  router.use((_req, res) => sendError(res, 404, ApiErrorCode.NotFound));
  router.use(answerError(options.logger));
  return router;
}

function addRoutes(router: Router, options: ApiOptions): void {
  const access = new RoomAccess(options);
  const idempotency = new IdempotencyCache();
  const limit = bodyLimit(options.maxMessageBytes);

  router
    .route('/rooms')
    .get(async (req, res) => {
      res.json(await access.list(roomListQueryOf(req)));
    })
    .all(methodNotAllowed('GET, HEAD'));

  router
    .route('/rooms/:room/messages')
    .get(async (req, res) => {
      const room = roomOf(req);
      const page = await access.history(room, historyQueryOf(req));
      res.json({ messages: page.messages, complete: page.complete, more: page.more });
    })
    .post(async (req, res) => {
      const room = roomOf(req);
      const key = idempotencyKeyOf(req);
      const { name, text } = postInputOf(await readJsonBody(req, limit), options.maxMessageBytes);
      const fingerprint = key === undefined ? '' : postFingerprint(room, name, text);
      const earlier = key === undefined ? undefined : idempotency.lookup(key, fingerprint);
      if (earlier === KEY_REUSED) throw new ApiError(422, ApiErrorCode.IdempotencyKeyReused);
      if (earlier !== undefined) {
        res.status(200).json(await earlier);
        return;
      }
      const answer = access.post(room, name, text);
      if (key !== undefined) idempotency.remember(key, fingerprint, answer);
      res.status(201).json(await answer);
    })
    .all(methodNotAllowed('GET, HEAD, POST'));

  // PATCH and DELETE need no Idempotency-Key: the same edit or delete twice leaves the
  // message as once (a second delete answers 404).
  router
    .route('/rooms/:room/messages/:id')
    .patch(async (req, res) => {
      const room = roomOf(req);
      const id = messageIdOf(req);
      const text = editTextOf(await readJsonBody(req, limit), options.maxMessageBytes);
      res.json(await access.edit(room, id, text));
    })
    .delete(async (req, res) => {
      const room = roomOf(req);
      const id = messageIdOf(req);
      res.json({ ...(await access.delete(room, id)), deleted: true });
    })
    .all(methodNotAllowed('PATCH, DELETE'));

  router
    .route('/rooms/:room/presence')
    .get((req, res) => {
      res.json(access.presence(roomOf(req)));
    })
    .all(methodNotAllowed('GET, HEAD'));

  router
    .route('/users/:user/rooms')
    .get(async (req, res) => {
      const user = userOf(req);
      res.json({ rooms: await access.userRooms(user, limitOf(req)) });
    })
    .all(methodNotAllowed('GET, HEAD'));
  // An empty user matches no route above.
  router.all('/users//rooms', () => {
    throw new ApiError(400, ApiErrorCode.InvalidUser);
  });
}

/** Answers are live state: no cache along the way may keep one. Counted once sent. */
function answerFreshly(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    res.set('Cache-Control', 'no-store');
    // Express would answer a matching If-None-Match with 304 and no body: a poller that
    // sent one would read an empty page for "nothing new".
    delete req.headers['if-none-match'];
    delete req.headers['if-modified-since'];
    res.once('finish', () => metrics.apiRequest(req.method, res.statusCode));
    next();
  };
}

function authorize(apiKey: string): RequestHandler {
  return (req, res, next) => {
    if (bearerMatches(req.headers.authorization, apiKey)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Bearer realm="api"');
    sendError(res, 401, ApiErrorCode.Unauthorized);
  };
}

function answerError(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (err instanceof ApiError) {
      sendError(res, err.status, err.code);
      return;
    }
    if (err instanceof URIError) {
      // A ban's id that cannot be decoded is no ban's: 404, as any unknown one.
      if (req.path.startsWith('/bans/')) sendError(res, 404, ApiErrorCode.NotFound);
      else sendError(res, 400, undecodableParameter(req.path));
      return;
    }
    logger.error({ err, method: req.method, path: redactUrl(req.originalUrl) }, 'API request failed');
    sendError(res, 500, ApiErrorCode.Internal);
  };
}

/**
 * Express could not decode a path parameter (`%E0`): the code for the parameter it was,
 * told by its place in `path` (`/rooms/<room>/messages/<id>`, `/users/<user>/rooms`).
 */
function undecodableParameter(path: string): ApiErrorCode {
  const [, collection, name] = path.split('/');
  if (collection === 'users') return ApiErrorCode.InvalidUser;
  return decodes(name ?? '') ? ApiErrorCode.InvalidId : ApiErrorCode.InvalidRoom;
}

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}
