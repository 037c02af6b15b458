import type { Logger } from 'pino';
import type { Admission } from '../access/admission';
import type { PublishHook } from '../hooks/publish-hook';
import type { FloodControl } from '../room/flood-control';
import type { Rooms } from '../room/rooms';
import type { ExpiryClock } from '../support/expiry-clock';
import type { Metrics } from '../support/metrics';
import type { Moderation } from './moderation';

/** What sessions and their members use of the server (SessionCore holds them). */
export interface SessionServices {
  readonly rooms: Rooms;
  readonly admission: Admission;
  /** Message and byte budgets, kept per address across reconnects. */
  readonly floodControl: FloodControl;
  /** Ends each member when its token expires. */
  readonly expiry: ExpiryClock;
  readonly maxMessageBytes: number;
  /** Bans and mutes: checked at each handshake and post; kicks and bans from moderators. */
  readonly moderation: Moderation;
  /** PUBLISH_HOOK_URL: asked about each client message and edit before it is stored; null without one. */
  readonly publishHook: PublishHook | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
