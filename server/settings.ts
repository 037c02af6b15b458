/**
 * Every setting in one table: its environment variable, its default, how it is read and
 * what it means. The Config type, the validation (config.ts) and the README's table of
 * settings all come from here (`npm run docs:settings` writes the table; a test holds it
 * equal). An empty variable counts as unset.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseHost, type AllowedHost, type AllowedHosts } from './host-name';
import { TrustedProxies } from './trusted-proxies';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The signature algorithms a public key file may verify: exactly the one its key type signs with. */
export type JwtPublicKeyAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** `'*'` allows any origin; a list allows exactly those (the page's own origin always passes). */
export type AllowedOrigins = '*' | readonly string[];

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

/** An origin as browsers send it: scheme, host and optional port, nothing else. */
function parseOrigin(text: string): string | null {
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    return url.origin === text.replace(/\/$/, '') ? url.origin : null;
  } catch {
    return null;
  }
}

/**
 * A comma-separated list, each part read by `parse` (null: not one), frozen; the first
 * part that is not one is named in the error, after `expected`.
 */
function commaList<T>(text: string, ctx: z.RefinementCtx, parse: (part: string) => T | null, expected: string): readonly T[] {
  const items: T[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const item = parse(part);
    if (item === null) {
      ctx.addIssue({ code: 'custom', message: `${expected}; "${part}" is not one` });
      return z.NEVER;
    }
    items.push(item);
  }
  return Object.freeze(items);
}

const allowedOrigins = z.string().transform((text, ctx): AllowedOrigins => {
  if (text.trim() === '*') return '*';
  return commaList(text, ctx, parseOrigin, 'must be "*" or a comma-separated list of origins like https://chat.example.com');
});

const allowedHosts = z.string().transform((text, ctx): AllowedHosts =>
  commaList(
    text,
    ctx,
    (part): AllowedHost | null => {
      const host = parseHost(part);
      return host === null ? null : Object.freeze(host);
    },
    'must be a comma-separated list of host names with an optional port, like chat.example.com,localhost:8000',
  ),
);

const trustedProxies = z.string().transform((text, ctx): TrustedProxies => {
  const entries = commaList(text, ctx, (part) => (TrustedProxies.parseEntry(part) === null ? null : part), 'must be a comma-separated list of IP addresses or CIDR ranges, like 127.0.0.1,10.0.0.0/8,::1');
  return Array.isArray(entries) ? new TrustedProxies(entries) : z.NEVER;
});

/**
 * A PEM public key file, read now (at start): its text and the one algorithm its key
 * type signs with. Anything else (unreadable, not a public key, another curve) is a
 * configuration error naming the file.
 */
const publicKeyFile = z.string().transform((path, ctx) => {
  if (path.trim() === '') return null;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read the key file (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    return z.NEVER;
  }
  let algorithm: JwtPublicKeyAlgorithm | null = null;
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType === 'rsa') algorithm = 'RS256';
    else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') algorithm = 'ES256';
    else if (key.asymmetricKeyType === 'ed25519') algorithm = 'EdDSA';
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a PEM public key' });
    return z.NEVER;
  }
  if (algorithm === null) {
    ctx.addIssue({ code: 'custom', message: 'must hold an RSA, P-256 (EC) or Ed25519 public key' });
    return z.NEVER;
  }
  return { path, pem, algorithm };
});

const jwksUrl = z
  .string()
  .trim()
  .refine((text) => {
    if (text === '') return true;
    try {
      const url = new URL(text);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL');


/** An `http(s)://` URL, or empty. */
const httpUrl = jwksUrl;

/** A Standard Webhooks secret: `whsec_` and the base64 of at least 16 bytes, or empty. */
const webhookSecret = z
  .string()
  .trim()
  .refine((text) => text === '' || (/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text.slice(6), 'base64').length >= 16), 'must be whsec_ and the base64 of a key of at least 16 bytes');

/** An empty value is `null`: the setting is off. */
const orNull = <T extends z.ZodType<string>>(schema: T) => schema.transform((value: string) => (value === '' ? null : value));

/** One setting. `key`: its name in Config (null: read with others into one, as TLS_* and JWT_* are). */
interface Setting<K extends string | null, S extends z.ZodType> {
  readonly key: K;
  readonly default: string;
  readonly schema: S;
  /** What it means, as the README's table says it (Markdown). */
  readonly doc: string;
  /** Its value stays out of error messages. */
  readonly secret: boolean;
}

function setting<K extends string | null, S extends z.ZodType>(key: K, byDefault: string, schema: S, doc: string, options: { secret?: boolean } = {}): Setting<K, S> {
  return { key, default: byDefault, schema, doc, secret: options.secret ?? false };
}

export const SETTINGS = {
  PORT: setting('port', '8000', integer(0, 65535), 'TCP port; `0` picks a free one'),
  HOST: setting('host', '0.0.0.0', z.string().trim().min(1, 'must not be empty'), 'interface to listen on (all, like the original)'),
  ALLOWED_ORIGINS: setting('allowedOrigins', '', allowedOrigins, 'browser origins allowed besides the server\'s own, comma-separated (`https://chat.example.com,http://localhost:3000`); `*` allows any. Requests without an `Origin` header (Node, curl, native apps) are always allowed'),
  // The upper bound keeps a single message well below what a Socket.IO packet may carry.
  MAX_MESSAGE_BYTES: setting('maxMessageBytes', '65536', integer(1, 16 * 1024 * 1024), 'largest chat message, in UTF-8 bytes'),
  HISTORY_SIZE: setting('historySize', '50', integer(0, 10_000), 'messages a Socket.IO newcomer receives (`0`: none)'),
  HISTORY_BYTES: setting('historyBytes', '1048576', integer(0, 1024 * 1024 * 1024), 'at most this much of that history (1 MiB), counted as sent: the messages as JSON, where a control character takes six bytes; the oldest messages go first'),
  HISTORY_KEEP: setting('historyKeep', '10000', integer(1, 10_000_000), 'messages stored per room, for raw `?since=` resume and the HTTP API; older ones are deleted with every commit'),
  DATA_DIR: setting('dataDir', 'data', z.string().trim().min(1, 'must not be empty').transform((dir) => (dir === ':memory:' ? null : dir)), 'directory of the SQLite database (`chat.sqlite`, relative to the working directory; made if missing). `:memory:` keeps history in memory only, as before the store existed. Not used with `REDIS_URL`'),
  MAX_STORED_ROOMS: setting('maxStoredRooms', '10000', integer(0, 1_000_000_000), 'rooms with stored history (SQLite and Redis; ten times `MAX_ROOMS`); past it the room idle longest (whose newest message is oldest) goes, whole. `0`: no bound. See Stored history'),
  // 1 PiB: above any disk, and below the largest safe integer.
  MAX_STORED_BYTES: setting('maxStoredBytes', '1073741824', integer(0, 1024 ** 5), 'stored messages in all (SQLite; 1 GiB), each counted as the UTF-8 bytes of its room, name and text plus 32; past it the rooms idle longest go, whole. `0`: no bound. See Stored history'),
  LOG_LEVEL: setting('logLevel', 'info', z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }), '`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`; message bodies are logged only at `debug`'),
  RATE_LIMIT: setting('rateLimit', '20', integer(0, 1_000_000), 'chat messages per second per connection; `0` turns flood control off (the byte budget too). A reconnect does not refill it (see Limits)'),
  RATE_BURST: setting('rateBurst', '40', integer(1, 1_000_000), 'messages an address\'s connections may send at once before `RATE_LIMIT` applies'),
  RATE_LIMIT_BYTES: setting('rateLimitBytes', '1048576', integer(0, 1024 * 1024 * 1024), 'bytes per second (1 MiB) that one address\'s messages may make the server send, counted as encoded (JSON, where a control character takes six bytes), all its connections together; `0`: no byte budget'),
  RATE_BURST_BYTES: setting('rateBurstBytes', '4194304', integer(1, 16 * 1024 * 1024 * 1024), 'those bytes at once (4 MiB) before `RATE_LIMIT_BYTES` applies'),
  // Below a few kilobytes even one ordinary message would count as a slow consumer.
  MAX_BUFFERED_BYTES: setting('maxBufferedBytes', '1048576', integer(16 * 1024, 1024 * 1024 * 1024), 'unsent bytes one client may hold (1 MiB) for longer than `MAX_BUFFERED_MS`; a client that stays above it is cut off'),
  MAX_BUFFERED_MS: setting('maxBufferedMs', '25000', integer(0, 3_600_000), 'how long a client may stay above `MAX_BUFFERED_BYTES` without once getting under it'),
  BUFFERED_CEILING_BYTES: setting('bufferedCeilingBytes', '67108864', integer(16 * 1024, 16 * 1024 * 1024 * 1024), 'unsent bytes one client may hold at any moment (64 MiB); past that it is cut off at once. At least `MAX_BUFFERED_BYTES`'),
  HEARTBEAT_MS: setting('heartbeatMs', '25000', integer(100, 3_600_000), 'ping interval for both kinds of client; a peer that has not answered by the next ping is cut off'),
  DRAIN_MS: setting('drainMs', '10000', integer(0, 3_600_000), 'on `SIGTERM`, the node stops accepting and ends its clients one by one over this window (raw: close `1012`; Socket.IO: transport closed, so it reconnects), so that they come back to the other nodes spread out, not all at once. `0`: all at once'),
  MAX_CONNECTIONS: setting('maxConnections', '10000', integer(1, 10_000_000), 'clients of both kinds together; more are refused with HTTP 503'),
  MAX_CONNECTIONS_PER_IP: setting('maxConnectionsPerIp', '0', integer(0, 10_000_000), 'clients per address (`0`: no limit; behind a proxy, see `TRUST_PROXY`); more are refused with HTTP 429'),
  MAX_ROOMS: setting('maxRooms', '1000', integer(1, 10_000_000), 'rooms held in memory (with clients, or used in the last minute; the lobby always counts); a new room past it, while all have clients, is refused (raw `503`, Socket.IO `room_limit`)'),
  HANDSHAKE_TIMEOUT_MS: setting('handshakeTimeoutMs', '10000', integer(100, 3_600_000), 'how long a connection may take, from accept, to send its request head (over TLS, its handshake included); then it is answered `408` and closed, or over TLS before its handshake closed without an answer (see Limits)'),
  MAX_PENDING_CONNECTIONS: setting('maxPendingConnections', '512', integer(1, 10_000_000), 'connections that have not sent a request head yet, at once; a new one past it takes the place of the oldest, which gets `503` (see Limits). Keep it well below the open-file limit (`ulimit -n`)'),
  MAX_PENDING_CONNECTIONS_PER_IP: setting('maxPendingConnectionsPerIp', '256', integer(0, 10_000_000), 'the same per remote address (`0`: no bound per address), below `MAX_PENDING_CONNECTIONS` so that one address cannot take every place. Not applied to a `TRUST_PROXY` address'),
  TRUST_PROXY: setting('trustProxy', '', trustedProxies, 'reverse proxies whose `X-Forwarded-For` names the client, comma-separated addresses or CIDR ranges (`127.0.0.1,10.0.0.0/8`). A request from one counts as from the rightmost address in that header that is not listed (a malformed entry stops there); from any other peer the header is ignored. That address is what the per-address settings, bans and mutes by `ip`, and the logs use, except `MAX_PENDING_CONNECTIONS_PER_IP`: before its request head a connection\'s client is unknown, so a proxy\'s connections are bounded only by `MAX_PENDING_CONNECTIONS`. Empty: the TCP peer is the client (see docs/deploy/README.md)'),
  CHAT_TOKEN: setting('chatToken', '', orNull(z.string()), 'when set, raw clients must pass `?token=` and Socket.IO clients `auth.token`; others get HTTP 401 or a `connect_error` (`unauthorized`) and never join', { secret: true }),
  REDIS_URL: setting('redisUrl', '', orNull(z.string().trim().refine((text) => text === '' || /^rediss?(\+cluster)?:\/\/[^\s]+$/.test(text), 'must be a redis:// or rediss:// URL')), '`redis://host:6379` (or `rediss://`): this node is one of several sharing that Redis (see Running several nodes). `redis+cluster://` (or `REDIS_CLUSTER=1`): a node of a Redis Cluster. Empty: one node, history in SQLite under `DATA_DIR`'),
  REDIS_CLUSTER: setting('redisCluster', '0', z.enum(['0', '1'], { error: 'must be 0 or 1' }).transform((value) => value === '1'), '`1`: `REDIS_URL` is one node of a Redis Cluster (7.0 or later), which the others are found from; each room\'s keys share a slot. Not with `WEBHOOK_URL`'),
  WORKERS: setting('workers', '1', integer(1, 1024), 'processes on this machine sharing the port (node:cluster); more than 1 uses every core'),
  METRICS_TOKEN: setting('metricsToken', '', orNull(z.string()), 'when set, `GET /metrics` needs `Authorization: Bearer <token>` (compared in constant time); others get `401`. Empty: `/metrics` is open', { secret: true }),
  ALLOWED_HOSTS: setting('allowedHosts', '', allowedHosts, 'host names this server answers to, comma-separated, each with an optional port (`chat.example.com,localhost:8000`), matched case-insensitively; a name without a port matches any port. Any other `Host` header gets `421 Misdirected Request` on every HTTP request and upgrade, Socket.IO\'s included. Empty: any host (set it on a public server: it stops DNS rebinding)'),
  API_KEY: setting('apiKey', '', orNull(z.string()), 'when set, the HTTP API (`/api/...`, see HTTP API) is on and needs `Authorization: Bearer <key>` (compared in constant time); others get `401`. Empty: every `/api/` request gets `404`', { secret: true }),
  // Half the largest burst a bucket may hold (the burst is twice the rate).
  API_RATE_LIMIT: setting('apiRateLimit', '100', integer(0, 500_000), 'writes per second through the HTTP API (posts, edits, deletes), after a burst of twice that; more get `429`. `0` turns the limit off'),
  TLS_CERT: setting(null, '', z.string(), 'path of a PEM certificate file (the server\'s certificate first, then any intermediates, like a `fullchain.pem`): everything on `PORT` is served over HTTPS and WSS (see TLS). Needs `TLS_KEY`'),
  TLS_KEY: setting(null, '', z.string(), 'path of the PEM private key (unencrypted) of `TLS_CERT`\'s certificate. Needs `TLS_CERT`'),
  JWT_SECRET: setting(null, '', z.string(), 'when set, every client needs a JWT signed with this secret (HS256); see Authentication', { secret: true }),
  JWT_PUBLIC_KEY: setting(null, '', publicKeyFile, 'path to a PEM public key, read at start: every client needs a JWT signed with its private key. The key type fixes the algorithm: RSA `RS256`, P-256 `ES256`, Ed25519 `EdDSA`. An unreadable file or another kind of key stops the server (exit 2)'),
  JWT_JWKS_URL: setting(null, '', jwksUrl, '`http(s)://` URL of a JSON Web Key Set (your identity provider\'s `jwks_uri`): tokens signed by any of its keys (`RS256`, `ES256`, `EdDSA`), picked by `kid`'),
  JWT_ISSUER: setting(null, '', z.string().trim(), 'when set, a token\'s `iss` must be exactly this'),
  JWT_AUDIENCE: setting(null, '', z.string().trim(), 'when set, a token\'s `aud` must be (or include) this'),
  WEBHOOK_URL: setting('webhookUrl', '', orNull(httpUrl), '`http(s)://` URL that receives this server\'s events (rooms occupied and vacated, members, messages, moderation), batched and signed as Standard Webhooks, from a durable outbox (see Webhooks). Needs `WEBHOOK_SECRET`'),
  WEBHOOK_SECRET: setting('webhookSecret', '', orNull(webhookSecret), '`whsec_` and a base64 key: signs every webhook and publish hook request (Standard Webhooks 1.0)', { secret: true }),
  WEBHOOK_MAX_AGE: setting('webhookMaxAgeS', '86400', integer(1, 365 * 86_400), 'seconds an undelivered event is kept and retried (24 h); older ones are dropped, logged and counted'),
  WEBHOOK_TIMEOUT_MS: setting('webhookTimeoutMs', '5000', integer(100, 600_000), 'how long a delivery may take to get its answer\'s status; then it counts as failed and is retried'),
  WEBHOOK_RETRY_MAX_MS: setting('webhookRetryMaxMs', '600000', integer(100, 86_400_000), 'the longest wait between retries (10 min): after the n-th failure in a row the wait is random, up to 1 s times 2^n, and at most this'),
  PUBLISH_HOOK_URL: setting('publishHookUrl', '', orNull(httpUrl), '`http(s)://` URL asked before each client\'s message (or edit) is stored: it allows, rejects (with a reason the sender sees) or replaces it (see Webhooks). Needs `WEBHOOK_SECRET`'),
  PUBLISH_HOOK_TIMEOUT_MS: setting('publishHookTimeoutMs', '1000', integer(10, 60_000), 'how long the publish hook has to answer'),
  PUBLISH_HOOK_ON_ERROR: setting('publishHookOnError', 'reject', z.enum(['reject', 'allow'], { error: 'must be reject or allow' }), 'what a message becomes when the publish hook fails to answer in time or answers nonsense: `reject` (the sender gets `unavailable`) or `allow`'),
  SOCKETIO_FAST_PATH: setting('socketIoFastPath', 'on', z.enum(['on', 'off']).transform((value) => value === 'on'), '`off`: every Socket.IO packet takes engine.io\'s own path (see Socket.IO fast path). For comparing, or if a client misbehaves with the fast path on'),
} as const;

type Settings = typeof SETTINGS;
export type SettingName = keyof Settings;

/** Each setting with a `key`, read: the plain part of Config. */
export type SettingValues = {
  readonly [N in SettingName as Settings[N]['key'] extends string ? Settings[N]['key'] : never]: z.output<Settings[N]['schema']>;
};

/** The README's table of settings, in Markdown: one row each, in the table's order. */
export function settingsTable(): string {
  const rows = (Object.keys(SETTINGS) as SettingName[]).map((name) => {
    const { default: byDefault, doc } = SETTINGS[name];
    return `| \`${name}\` | ${byDefault === '' ? '*(empty)*' : `\`${byDefault}\``} | ${doc} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
