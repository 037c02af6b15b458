import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseHost, type AllowedHost, type AllowedHosts } from './host-name';
import { readTlsFiles, type TlsFiles } from './tls';

/**
 * Every setting, its environment variable and its default, in one literal.
 * An empty variable counts as unset.
 */
export const DEFAULTS = {
  PORT: '8000',
  HOST: '0.0.0.0', // all interfaces, like the original Tornado server
  ALLOWED_ORIGINS: '', // empty: same origin only (plus requests without an Origin header)
  MAX_MESSAGE_BYTES: '65536', // 64 KiB, one chat message as UTF-8
  HISTORY_SIZE: '50', // messages a newcomer receives
  HISTORY_BYTES: '1048576', // 1 MiB: at most this much of that history, as sent (JSON)
  HISTORY_KEEP: '10000', // messages stored per room (for ?since= and the API)
  DATA_DIR: 'data', // the SQLite database's directory; ':memory:' keeps history in memory only
  MAX_STORED_ROOMS: '10000', // rooms with stored history (ten times MAX_ROOMS); past it the room idle longest goes; 0: no bound
  MAX_STORED_BYTES: '1073741824', // 1 GiB of stored messages in all; past it the rooms idle longest go; 0: no bound
  LOG_LEVEL: 'info',
  RATE_LIMIT: '20', // chat messages per second per connection; 0 turns flood control off
  RATE_BURST: '40', // messages a connection may send at once before the rate applies
  RATE_LIMIT_BYTES: '1048576', // 1 MiB: bytes per second one address's messages may make the server send, as encoded (JSON)
  RATE_BURST_BYTES: '4194304', // 4 MiB: those bytes at once before RATE_LIMIT_BYTES applies
  MAX_BUFFERED_BYTES: '1048576', // 1 MiB unsent to one client for MAX_BUFFERED_MS, and it is cut off
  MAX_BUFFERED_MS: '25000', // how long a client may stay above MAX_BUFFERED_BYTES without draining
  BUFFERED_CEILING_BYTES: '67108864', // 64 MiB unsent to one client at any moment: cut at once
  HEARTBEAT_MS: '25000', // ping interval; a peer that misses a pong until the next ping is cut
  MAX_CONNECTIONS: '10000', // clients of both kinds together
  MAX_CONNECTIONS_PER_IP: '0', // 0: no limit per address
  MAX_ROOMS: '1000', // rooms held in memory at once (with clients, or used in the last minute)
  HANDSHAKE_TIMEOUT_MS: '10000', // from accept until the request head (TLS handshake included); then 408, or dropped before TLS
  MAX_PENDING_CONNECTIONS: '512', // connections without a request head yet; past it the oldest makes way
  MAX_PENDING_CONNECTIONS_PER_IP: '256', // the same per remote address; 0: no bound per address
  CHAT_TOKEN: '', // empty: no token needed
  REDIS_URL: '', // empty: one node, in memory; set (redis://host:6379): several nodes share Redis
  WORKERS: '1', // processes on this machine sharing the port (node:cluster)
  METRICS_TOKEN: '', // empty: /metrics is open; set: it needs `Authorization: Bearer <token>`
  ALLOWED_HOSTS: '', // empty: any Host header; set: comma-separated names (optional :port), others get 421
  API_KEY: '', // empty: the HTTP API (/api/...) is off; set: it needs `Authorization: Bearer <key>`
  API_RATE_LIMIT: '100', // messages per second posted through the API (burst: twice that); 0: no limit
  TLS_CERT: '', // empty: plain HTTP/WS; set (with TLS_KEY): a PEM certificate (chain) file, HTTPS/WSS on PORT
  TLS_KEY: '', // the PEM private key file of TLS_CERT's certificate
  JWT_SECRET: '', // set: clients need a JWT signed with this secret (HS256)
  JWT_PUBLIC_KEY: '', // set: path to a PEM public key (RSA: RS256, P-256: ES256, Ed25519: EdDSA)
  JWT_JWKS_URL: '', // set: an http(s) URL serving the signing keys as a JSON Web Key Set
  JWT_ISSUER: '', // set: a token's `iss` must be this
  JWT_AUDIENCE: '', // set: a token's `aud` must include this
  SOCKETIO_FAST_PATH: 'on', // 'off': every Socket.IO packet takes engine.io's own path (see transports/socketio-fast-path.ts)
} as const satisfies Record<string, string>;

export type ConfigVariable = keyof typeof DEFAULTS;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The signature algorithms a public key file may verify: exactly the one its key type signs with. */
export type JwtPublicKeyAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** Where the keys that sign clients' tokens come from: exactly one of the three. */
export type JwtKeySource =
  | { readonly kind: 'secret'; readonly secret: string }
  | { readonly kind: 'public-key'; readonly path: string; readonly pem: string; readonly algorithm: JwtPublicKeyAlgorithm }
  | { readonly kind: 'jwks'; readonly url: string };

/** JWT identity: every client shows a token signed by `key`. */
export interface JwtSettings {
  readonly key: JwtKeySource;
  /** null: any issuer. */
  readonly issuer: string | null;
  /** null: any audience. */
  readonly audience: string | null;
}

/** `'*'` allows any origin; a list allows exactly those (the page's own origin always passes). */
export type AllowedOrigins = '*' | readonly string[];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly allowedOrigins: AllowedOrigins;
  readonly maxMessageBytes: number;
  readonly historySize: number;
  /** Bytes of messages as JSON the history may hold; the oldest go first. */
  readonly historyBytes: number;
  /** Messages stored per room. */
  readonly historyKeep: number;
  /** Where the SQLite database lives; null: `:memory:`, history in memory only. Unused with Redis. */
  readonly dataDir: string | null;
  /** Rooms with stored messages (SQLite, Redis); past it the room idle longest goes. 0 means no bound. */
  readonly maxStoredRooms: number;
  /** Bytes of stored messages in all (SQLite); past it the rooms idle longest go. 0 means no bound. */
  readonly maxStoredBytes: number;
  readonly logLevel: LogLevel;
  /** Messages per second per connection; 0 means no limit. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  /** Encoded bytes per second per address (JSON: a control character is six); 0: no byte budget. */
  readonly rateLimitBytes: number;
  readonly rateBurstBytes: number;
  /** A client above this many unsent bytes for `maxBufferedMs` is a slow consumer. */
  readonly maxBufferedBytes: number;
  readonly maxBufferedMs: number;
  /** A client above this many unsent bytes is cut at once. */
  readonly bufferedCeilingBytes: number;
  readonly heartbeatMs: number;
  readonly maxConnections: number;
  /** 0 means no limit. */
  readonly maxConnectionsPerIp: number;
  readonly maxRooms: number;
  /** From accept until a request head has arrived (over TLS: its handshake included). */
  readonly handshakeTimeoutMs: number;
  /** Connections accepted that have not sent a request head yet, at once. */
  readonly maxPendingConnections: number;
  /** The same per remote address; 0 means no limit. */
  readonly maxPendingConnectionsPerIp: number;
  /** null when no token is required. */
  readonly chatToken: string | null;
  /** null: a single node with in-memory history and the default adapter. */
  readonly redisUrl: string | null;
  readonly workers: number;
  /** null: /metrics needs no token. */
  readonly metricsToken: string | null;
  /** Empty: any Host is served. */
  readonly allowedHosts: AllowedHosts;
  /** null: the HTTP API is off. */
  readonly apiKey: string | null;
  /** Messages per second posted through the API, with a burst of twice that; 0 means no limit. */
  readonly apiRateLimit: number;
  /** null: plain HTTP and WebSocket; set: HTTPS and WSS on the same port. */
  readonly tls: TlsFiles | null;
  /** null: no JWT (CHAT_TOKEN, if set, is the only check). */
  readonly jwt: JwtSettings | null;
  /** Broadcasts to idle WebSocket clients skip engine.io's per-packet path (transports/socketio-fast-path.ts). */
  readonly socketIoFastPath: boolean;
}

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

/** The variables that choose JWT's key, and every JWT variable. */
const JWT_KEY_VARIABLES = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const;
const JWT_VARIABLES = [...JWT_KEY_VARIABLES, 'JWT_ISSUER', 'JWT_AUDIENCE'] as const;

/** Settings whose values stay out of error messages. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(['CHAT_TOKEN', 'METRICS_TOKEN', 'API_KEY', 'JWT_SECRET']);

const schema = z.object({
  PORT: integer(0, 65535),
  HOST: z.string().trim().min(1, 'must not be empty'),
  ALLOWED_ORIGINS: allowedOrigins,
  // The upper bound keeps a single message well below what a Socket.IO packet may carry.
  MAX_MESSAGE_BYTES: integer(1, 16 * 1024 * 1024),
  HISTORY_SIZE: integer(0, 10_000),
  HISTORY_BYTES: integer(0, 1024 * 1024 * 1024),
  HISTORY_KEEP: integer(1, 10_000_000),
  DATA_DIR: z.string().trim().min(1, 'must not be empty'),
  MAX_STORED_ROOMS: integer(0, 1_000_000_000),
  // 1 PiB: above any disk, and below the largest safe integer.
  MAX_STORED_BYTES: integer(0, 1024 ** 5),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
  RATE_LIMIT: integer(0, 1_000_000),
  RATE_BURST: integer(1, 1_000_000),
  RATE_LIMIT_BYTES: integer(0, 1024 * 1024 * 1024),
  RATE_BURST_BYTES: integer(1, 16 * 1024 * 1024 * 1024),
  // Below a few kilobytes even one ordinary message would count as a slow consumer.
  MAX_BUFFERED_BYTES: integer(16 * 1024, 1024 * 1024 * 1024),
  MAX_BUFFERED_MS: integer(0, 3_600_000),
  BUFFERED_CEILING_BYTES: integer(16 * 1024, 16 * 1024 * 1024 * 1024),
  HEARTBEAT_MS: integer(100, 3_600_000),
  MAX_CONNECTIONS: integer(1, 10_000_000),
  MAX_CONNECTIONS_PER_IP: integer(0, 10_000_000),
  MAX_ROOMS: integer(1, 10_000_000),
  HANDSHAKE_TIMEOUT_MS: integer(100, 3_600_000),
  MAX_PENDING_CONNECTIONS: integer(1, 10_000_000),
  MAX_PENDING_CONNECTIONS_PER_IP: integer(0, 10_000_000),
  CHAT_TOKEN: z.string(),
  REDIS_URL: z
    .string()
    .trim()
    .refine((text) => text === '' || /^rediss?:\/\/[^\s]+$/.test(text), 'must be a redis:// or rediss:// URL'),
  WORKERS: integer(1, 1024),
  METRICS_TOKEN: z.string(),
  ALLOWED_HOSTS: allowedHosts,
  API_KEY: z.string(),
  // Half the largest burst a bucket may hold (the burst is twice the rate).
  API_RATE_LIMIT: integer(0, 500_000),
  TLS_CERT: z.string(),
  TLS_KEY: z.string(),
  JWT_SECRET: z.string(),
  JWT_PUBLIC_KEY: publicKeyFile,
  JWT_JWKS_URL: jwksUrl,
  JWT_ISSUER: z.string().trim(),
  JWT_AUDIENCE: z.string().trim(),
  SOCKETIO_FAST_PATH: z.enum(['on', 'off']),
}).superRefine((v, ctx) => {
  if (v.BUFFERED_CEILING_BYTES < v.MAX_BUFFERED_BYTES) {
    ctx.addIssue({ code: 'custom', path: ['BUFFERED_CEILING_BYTES'], message: 'must be at least MAX_BUFFERED_BYTES' });
  }
  const keys = JWT_KEY_VARIABLES.filter((key) => (key === 'JWT_PUBLIC_KEY' ? v[key] !== null : v[key] !== ''));
  const jwtSet = JWT_VARIABLES.filter((key) => (key === 'JWT_PUBLIC_KEY' ? v[key] !== null : v[key] !== ''));
  if (keys.length > 1) {
    ctx.addIssue({ code: 'custom', path: [keys[1] as string], message: `set only one of ${JWT_KEY_VARIABLES.join(', ')} (${keys.join(' and ')} are both set)` });
  } else if (keys.length === 0 && jwtSet.length > 0) {
    ctx.addIssue({ code: 'custom', path: [jwtSet[0] as string], message: `needs one of ${JWT_KEY_VARIABLES.join(', ')}` });
  }
  if (jwtSet.length > 0 && v.CHAT_TOKEN !== '') {
    ctx.addIssue({ code: 'custom', path: ['CHAT_TOKEN'], message: `cannot be combined with ${jwtSet.join(', ')}: use either CHAT_TOKEN or JWT` });
  }
});

/** Thrown when the environment holds invalid settings; `problems` names every one. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * TLS_CERT and TLS_KEY: both or neither; with both, the files are read and checked (a
 * synchronous step, like the rest) whatever else is wrong, so that one run names every problem.
 */
function checkTls(raw: Record<string, string>, problems: string[]): TlsFiles | null {
  const cert = raw['TLS_CERT'] ?? '';
  const key = raw['TLS_KEY'] ?? '';
  if (cert === '' && key === '') return null;
  if (cert === '' || key === '') {
    const [missing, set, file] = cert === '' ? ['TLS_CERT', 'TLS_KEY', key] : ['TLS_KEY', 'TLS_CERT', cert];
    problems.push(`${missing}="": must be set too, since ${set}=${JSON.stringify(file)} is (both or neither)`);
    return null;
  }
  // The primary of WORKERS > 1 reads each connection's first request to keep a long-polling
  // session on its worker; with TLS it would see only encrypted bytes (README, "TLS").
  if (/^\d+$/.test(raw['WORKERS'] ?? '') && Number(raw['WORKERS']) > 1) {
    problems.push(`WORKERS=${JSON.stringify(raw['WORKERS'])}: must be 1 with TLS_CERT (put a TLS-terminating reverse proxy in front of several workers)`);
  }
  return readTlsFiles(cert, key, problems);
}

/**
 * Reads the settings from an environment (process.env in production, a literal in tests),
 * checks all of them, and either returns a frozen Config or throws one ConfigError
 * listing every bad variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(DEFAULTS) as ConfigVariable[]) {
    const value = env[key];
    raw[key] = value === undefined || value === '' ? DEFAULTS[key] : value;
  }

  const result = schema.safeParse(raw);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => {
        const key = String(issue.path[0]);
        const value = SECRET_VARIABLES.has(key) ? '<hidden>' : JSON.stringify(raw[key]);
        return `${key}=${value}: ${issue.message}`;
      });
  const tls = checkTls(raw, problems);
  if (!result.success || problems.length > 0) throw new ConfigError(problems);

  const v = result.data;
  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    allowedOrigins: v.ALLOWED_ORIGINS,
    maxMessageBytes: v.MAX_MESSAGE_BYTES,
    historySize: v.HISTORY_SIZE,
    historyBytes: v.HISTORY_BYTES,
    historyKeep: v.HISTORY_KEEP,
    dataDir: v.DATA_DIR === ':memory:' ? null : v.DATA_DIR,
    maxStoredRooms: v.MAX_STORED_ROOMS,
    maxStoredBytes: v.MAX_STORED_BYTES,
    logLevel: v.LOG_LEVEL,
    rateLimit: v.RATE_LIMIT,
    rateBurst: v.RATE_BURST,
    rateLimitBytes: v.RATE_LIMIT_BYTES,
    rateBurstBytes: v.RATE_BURST_BYTES,
    maxBufferedBytes: v.MAX_BUFFERED_BYTES,
    maxBufferedMs: v.MAX_BUFFERED_MS,
    bufferedCeilingBytes: v.BUFFERED_CEILING_BYTES,
    heartbeatMs: v.HEARTBEAT_MS,
    maxConnections: v.MAX_CONNECTIONS,
    maxConnectionsPerIp: v.MAX_CONNECTIONS_PER_IP,
    maxRooms: v.MAX_ROOMS,
    handshakeTimeoutMs: v.HANDSHAKE_TIMEOUT_MS,
    maxPendingConnections: v.MAX_PENDING_CONNECTIONS,
    maxPendingConnectionsPerIp: v.MAX_PENDING_CONNECTIONS_PER_IP,
    chatToken: v.CHAT_TOKEN === '' ? null : v.CHAT_TOKEN,
    redisUrl: v.REDIS_URL === '' ? null : v.REDIS_URL,
    workers: v.WORKERS,
    metricsToken: v.METRICS_TOKEN === '' ? null : v.METRICS_TOKEN,
    allowedHosts: v.ALLOWED_HOSTS,
    apiKey: v.API_KEY === '' ? null : v.API_KEY,
    apiRateLimit: v.API_RATE_LIMIT,
    tls,
    jwt: jwtSettings(v),
    socketIoFastPath: v.SOCKETIO_FAST_PATH === 'on',
  });
}

/** The JWT settings of a validated environment, or null when none is set. */
function jwtSettings(v: z.infer<typeof schema>): JwtSettings | null {
  let key: JwtKeySource;
  if (v.JWT_SECRET !== '') key = { kind: 'secret', secret: v.JWT_SECRET };
  else if (v.JWT_PUBLIC_KEY !== null) key = Object.freeze({ kind: 'public-key', ...v.JWT_PUBLIC_KEY });
  else if (v.JWT_JWKS_URL !== '') key = { kind: 'jwks', url: v.JWT_JWKS_URL };
  else return null;
  return Object.freeze({
    key: Object.freeze(key),
    issuer: v.JWT_ISSUER === '' ? null : v.JWT_ISSUER,
    audience: v.JWT_AUDIENCE === '' ? null : v.JWT_AUDIENCE,
  });
}
