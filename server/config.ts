import { z } from 'zod';
import { SETTINGS, type JwtPublicKeyAlgorithm, type SettingName, type SettingValues } from './settings';
import { readTlsFiles, type TlsFiles } from './tls';

export type { AllowedOrigins, LogLevel } from './settings';

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

/** The server's settings, read and checked: each of SETTINGS by its `key`, and the ones read together. */
export interface Config extends SettingValues {
  /** null: plain HTTP and WebSocket; set: HTTPS and WSS on the same port. */
  readonly tls: TlsFiles | null;
  /** null: no JWT (CHAT_TOKEN, if set, is the only check). */
  readonly jwt: JwtSettings | null;
}

/** The variables that choose JWT's key, and every JWT variable. */
const JWT_KEY_VARIABLES = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const;
const JWT_VARIABLES = [...JWT_KEY_VARIABLES, 'JWT_ISSUER', 'JWT_AUDIENCE'] as const;

/** A REDIS_URL that names a Redis Cluster node: `redis+cluster://` or `rediss+cluster://`. */
const CLUSTER_URL = /^rediss?\+cluster:/;

const schema = z.object(Object.fromEntries(Object.entries(SETTINGS).map(([name, { schema: read }]) => [name, read])) as { [N in SettingName]: (typeof SETTINGS)[N]['schema'] }).superRefine((v, ctx) => {
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
  for (const hook of ['WEBHOOK_URL', 'PUBLISH_HOOK_URL'] as const) {
    if (v[hook] !== null && v.WEBHOOK_SECRET === null) ctx.addIssue({ code: 'custom', path: ['WEBHOOK_SECRET'], message: `must be set with ${hook} (it signs every request)` });
  }
  const cluster = v.REDIS_CLUSTER || (v.REDIS_URL !== null && CLUSTER_URL.test(v.REDIS_URL));
  if (cluster && v.REDIS_URL === null) ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER'], message: 'needs REDIS_URL (one node of the cluster)' });
  // The webhook outbox is one stream for every room, and its member counts span rooms: one Redis only.
  if (cluster && v.WEBHOOK_URL !== null) ctx.addIssue({ code: 'custom', path: ['WEBHOOK_URL'], message: 'cannot be combined with a Redis Cluster yet: the webhook outbox needs a single Redis' });
  if (jwtSet.length > 0 && v.CHAT_TOKEN !== null) {
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
  // session on its worker; with TLS it would see only encrypted bytes (docs/deploy.md, TLS).
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
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const value = env[name];
    raw[name] = value === undefined || value === '' ? SETTINGS[name].default : value;
  }

  const result = schema.safeParse(raw);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => {
        const name = String(issue.path[0]) as SettingName;
        const value = SETTINGS[name]?.secret === true ? '<hidden>' : JSON.stringify(raw[name]);
        return `${name}=${value}: ${issue.message}`;
      });
  const tls = checkTls(raw, problems);
  if (!result.success || problems.length > 0) throw new ConfigError(problems);

  const v = result.data;
  const values: Record<string, unknown> = {};
  for (const [name, { key }] of Object.entries(SETTINGS)) if (key !== null) values[key] = v[name as SettingName];
  if (v.REDIS_URL !== null && CLUSTER_URL.test(v.REDIS_URL)) {
    values['redisCluster'] = true;
    values['redisUrl'] = v.REDIS_URL.replace('+cluster:', ':');
  }
  return Object.freeze({ ...(values as SettingValues), tls, jwt: jwtSettings(v) });
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
