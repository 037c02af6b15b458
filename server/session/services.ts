import type { Logger } from 'pino';
import type { Admission } from '../access/admission';
import type { FloodControl } from '../room/flood-control';
import type { Rooms } from '../room/rooms';
import type { ExpiryClock } from '../support/expiry-clock';
import type { Metrics } from '../support/metrics';

/** What sessions and their members use of the server (SessionCore holds them). */
export interface SessionServices {
  readonly rooms: Rooms;
  readonly admission: Admission;
  /** Message and byte budgets, kept per address across reconnects. */
  readonly floodControl: FloodControl;
  /** Ends each member when its token expires. */
  readonly expiry: ExpiryClock;
  readonly maxMessageBytes: number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}
