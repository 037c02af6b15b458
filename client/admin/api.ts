import type { Ban, BanKind, HistoryMessage, Presence } from '../../server/protocol.js';

/** One room as `GET /api/rooms` lists it. */
export interface ApiRoom {
  name: string;
  online: number;
  lastMessageAt: number | null;
}

export interface RoomPage {
  rooms: ApiRoom[];
  next: string | null;
}

export interface MessagePage {
  messages: HistoryMessage[];
  more: boolean;
  complete: boolean;
}

export interface BanPage {
  bans: Ban[];
  next: string | null;
}

/** What `POST /api/bans` takes: a user or an address, one room or (null) every room. */
export interface NewBan {
  kind: BanKind;
  user?: string;
  ip?: string;
  room: string | null;
  until: number | null;
  reason?: string;
}

/**
 * A request the server refused (`status` and its `{ "error": code }`), or one that got no
 * answer at all (status 0, code `unreachable`).
 */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
    this.name = 'ApiFailure';
  }
}

/** A Map, not an object: a code such as `constructor` must not find anything. */
const FAILURES = new Map<string, string>([
  ['unreachable', 'the server did not answer'],
  ['unauthorized', 'the server refused the API key'],
  ['api_disabled', 'the HTTP API is off on this server (no API_KEY)'],
  ['not_found', 'not found (gone already?)'],
  ['forbidden', 'not allowed'],
  ['invalid_ban', 'the server did not accept it (check the user or address, the room and the time)'],
  ['invalid_room', 'not a room name'],
  ['invalid_type', 'the server did not understand the request'],
  ['rate_limited', 'too much at once; try again in a moment'],
  ['unavailable', 'the server cannot do that right now'],
  ['room_limit', 'the server has as many rooms open as it allows'],
]);

/** Why a request failed, in words (an unknown code as it is, with its status). */
export function failureWords(err: unknown): string {
  if (err instanceof ApiFailure) return FAILURES.get(err.code) ?? `${err.code} (HTTP ${err.status})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The HTTP API as the API key holder: every request carries the key in its
 * `Authorization` header, never in its URL, so no request line or access log has it.
 */
export class AdminApi {
  /**
   * The server's clock minus ours, from the last answer's `Date` header: whole seconds, so
   * the middle of that second is taken, within half a second either way.
   */
  private clockOffsetMs = 0;

  constructor(private readonly key: string) {}

  /** Now by the server's clock, which stamps messages (`at`) and judges a ban's `until`. */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  rooms(limit: number): Promise<RoomPage> {
    return this.call('GET', `/api/rooms?limit=${limit}`);
  }

  presence(room: string): Promise<Presence> {
    return this.call('GET', `/api/rooms/${encodeURIComponent(room)}/presence`);
  }

  /** The room's latest `limit` messages, oldest first. */
  messages(room: string, limit: number): Promise<MessagePage> {
    return this.call('GET', `/api/rooms/${encodeURIComponent(room)}/messages?limit=${limit}`);
  }

  deleteMessage(room: string, id: string): Promise<{ id: string; deleted: true }> {
    return this.call('DELETE', `/api/rooms/${encodeURIComponent(room)}/messages/${encodeURIComponent(id)}`);
  }

  kick(room: string, user: string, reason: string): Promise<{ room: string; user: string }> {
    return this.call('POST', `/api/rooms/${encodeURIComponent(room)}/kick`, reason === '' ? { user } : { user, reason });
  }

  bans(limit: number): Promise<BanPage> {
    return this.call('GET', `/api/bans?limit=${limit}`);
  }

  ban(ban: NewBan): Promise<Ban> {
    return this.call('POST', '/api/bans', ban);
  }

  lift(id: string): Promise<Ban> {
    return this.call('DELETE', `/api/bans/${encodeURIComponent(id)}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        cache: 'no-store',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ApiFailure(0, 'unreachable');
    }
    const date = Date.parse(res.headers.get('date') ?? '');
    if (!Number.isNaN(date)) this.clockOffsetMs = date + 500 - Date.now();
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch {
      throw new ApiFailure(res.status, `HTTP ${res.status}`);
    }
    if (!res.ok) {
      const code = (parsed as { error?: unknown } | null)?.error;
      throw new ApiFailure(res.status, typeof code === 'string' ? code : `HTTP ${res.status}`);
    }
    return parsed as T;
  }
}
