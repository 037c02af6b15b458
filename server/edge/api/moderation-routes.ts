import type { Router } from 'express';
import { ModerationError, type ModerationErrorCode } from '../../protocol';
import { API_MODERATOR, type Moderation } from '../../session/moderation';
import { readJsonBody } from './body';
import { ApiError, ApiErrorCode, methodNotAllowed } from './errors';
import { limitOf, roomOf } from './input';

/** The answer to each way Moderation refuses what the API asked (it acts as an admin). */
const REFUSALS: Record<ModerationErrorCode, [status: number, code: ApiErrorCode]> = {
  [ModerationError.Invalid]: [400, ApiErrorCode.InvalidBan],
  [ModerationError.Forbidden]: [403, ApiErrorCode.Forbidden],
  [ModerationError.RateLimited]: [429, ApiErrorCode.RateLimited],
  [ModerationError.Unavailable]: [503, ApiErrorCode.Unavailable],
};

const MAX_AFTER_LENGTH = 64;

/**
 * Kick, ban, mute and lift, as the API key (an admin): `POST /rooms/<room>/kick`,
 * `POST /bans`, `GET /bans`, `DELETE /bans/<id>`.
 */
export function addModerationRoutes(router: Router, moderation: Moderation, bodyLimit: number): void {
  router
    .route('/rooms/:room/kick')
    .post(async (req, res) => {
      const room = roomOf(req);
      const body = await readJsonBody(req, bodyLimit);
      const answer = moderation.kick(room, body, API_MODERATOR);
      if (!answer.ok) throw new ApiError(...REFUSALS[answer.error]);
      // Connections ended on this node; the other nodes end theirs as the kick reaches them.
      res.json({ room, user: (body as { user: string }).user, connections: answer.connections });
    })
    .all(methodNotAllowed('POST'));

  router
    .route('/bans')
    .get((req, res) => {
      const after = (req.query as Record<string, unknown>).after;
      if (after !== undefined && (typeof after !== 'string' || after.length > MAX_AFTER_LENGTH)) throw new ApiError(400, ApiErrorCode.InvalidAfter);
      res.json(moderation.page(after, limitOf(req)));
    })
    .post(async (req, res) => {
      const body = await readJsonBody(req, bodyLimit);
      if (typeof body !== 'object' || body === null) throw new ApiError(400, ApiErrorCode.InvalidBan);
      const kind = (body as { kind?: unknown } | null)?.kind ?? 'ban';
      if (kind !== 'ban' && kind !== 'mute') throw new ApiError(400, ApiErrorCode.InvalidBan);
      const { kind: _kind, ...request } = body as Record<string, unknown>;
      const answer = await moderation.ban(kind, request, API_MODERATOR, null);
      if (!answer.ok) throw new ApiError(...REFUSALS[answer.error]);
      res.status(201).json(answer.ban);
    })
    .all(methodNotAllowed('GET, HEAD, POST'));

  router
    .route('/bans/:id')
    .delete(async (req, res) => {
      const id = req.params.id;
      if (typeof id !== 'string' || id.length > MAX_AFTER_LENGTH) throw new ApiError(404, ApiErrorCode.NotFound);
      const lifted = await moderation.lift(id).catch(() => {
        throw new ApiError(503, ApiErrorCode.Unavailable);
      });
      if (lifted === null) throw new ApiError(404, ApiErrorCode.NotFound);
      res.json(lifted);
    })
    .all(methodNotAllowed('DELETE'));
}
