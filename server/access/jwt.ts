import { createPublicKey, type KeyObject } from 'node:crypto';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from 'pino';
import type { JwtSettings } from '../config';
import { DEFAULT_KEY_SET_TIMING, KeysUnavailable, RemoteKeySet, type KeySetTiming } from './jwks';

/** Who a valid token says the client is, and what it may do. */
export interface Identity {
  /** The `sub` claim: never empty. */
  readonly sub: string;
  /** The `name` claim as sent (to be cleaned for display), or null when it is not a string. */
  readonly name: string | null;
  /** The `rooms` claim: room names and prefixes ending in `*`; null when absent (every room). */
  readonly rooms: readonly string[] | null;
  /** When the token stops being valid (epoch milliseconds, from `exp`); null: it does not. */
  readonly expiresAt: number | null;
  /**
   * The `role` claim: `moderator` acts as one in the rooms the token covers, `admin`
   * everywhere; null for any other value, or none.
   */
  readonly role: Role | null;
}

export type Role = 'moderator' | 'admin';

/**
 * Why a token was refused, for logs and nothing else: every one of them is the same
 * `unauthorized` to the client. Never the token itself.
 */
export type TokenRefusal =
  | 'missing'
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not_yet_valid'
  | 'claims'
  | 'unknown_key'
  | 'keys_unavailable';

/** A JWKS's timing, where it is not the default (tests shorten it). */
export type VerifierTiming = Partial<KeySetTiming>;

/** Tokens longer than this are refused unread (a browser URL, a header: far below). */
const MAX_TOKEN_LENGTH = 8_192;

/** A compact JWS: three base64url segments and nothing else (no padding, no spaces). */
const COMPACT_FORM = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** Every key a JWKS may hold signs with one of these; never HMAC, never `none`. */
const JWKS_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];

/** Whether `answer` is a refusal rather than an Identity. */
export function isTokenRefusal(answer: Identity | TokenRefusal): answer is TokenRefusal {
  return typeof answer === 'string';
}

/**
 * Whether `identity` may be in `room`: no `rooms` claim allows every room; otherwise a
 * pattern must be the room's name, or a prefix of it followed by `*` (`*` alone: any).
 */
export function mayEnter(identity: Identity, room: string): boolean {
  if (identity.rooms === null) return true;
  return identity.rooms.some((pattern) => (pattern.endsWith('*') ? room.startsWith(pattern.slice(0, -1)) : pattern === room));
}

/**
 * Turns the token a client showed into an Identity, or the reason it is refused. A
 * token must be three strict base64url segments (isStrictCompact). The algorithm is
 * fixed by the configured key (HS256 for a secret, the key type's for a public key,
 * asymmetric ones for a JWKS), so neither `alg: none` nor an HMAC token keyed with the
 * public key's PEM is ever accepted. `exp` and `nbf` are checked with no
 * clock tolerance; `iss` and `aud` when configured.
 *
 * A JWKS is a RemoteKeySet (jwks.ts): the last good set is kept through an outage of
 * its endpoint, up to a bound, and fetches are spaced after failures.
 */
export class JwtVerifier {
  private readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  private readonly algorithms: string[];

  constructor(
    private readonly settings: JwtSettings,
    timing: VerifierTiming = {},
    logger?: Logger,
  ) {
    const source = settings.key;
    if (source.kind === 'secret') {
      this.key = new TextEncoder().encode(source.secret);
      this.algorithms = ['HS256'];
    } else if (source.kind === 'public-key') {
      this.key = createPublicKey(source.pem);
      this.algorithms = [source.algorithm];
    } else {
      const keySet = new RemoteKeySet(source.url, { ...DEFAULT_KEY_SET_TIMING, ...timing }, logger);
      this.key = keySet.getKey;
      this.algorithms = JWKS_ALGORITHMS;
    }
  }

  /** Never throws: whatever `token` is, the answer is an Identity or a refusal. */
  async verify(token: unknown): Promise<Identity | TokenRefusal> {
    if (typeof token !== 'string' || token === '') return 'missing';
    if (token.length > MAX_TOKEN_LENGTH || !isStrictCompact(token)) return 'malformed';
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: this.algorithms,
        ...(this.settings.issuer === null ? {} : { issuer: this.settings.issuer }),
        ...(this.settings.audience === null ? {} : { audience: this.settings.audience }),
      };
      // Three overloads of one function; the key decides which.
      ({ payload } =
        typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options));
    } catch (err) {
      return refusalOf(err);
    }
    return identityOf(payload);
  }
}

/**
 * Whether `token` is a compact JWS whose every segment is the one base64url encoding of
 * its bytes. jose decodes leniently (padding, spaces, stray low bits in the last
 * character): without this, one signature would have many accepted spellings.
 */
function isStrictCompact(token: string): boolean {
  if (!COMPACT_FORM.test(token)) return false;
  return token.split('.').every((segment) => Buffer.from(segment, 'base64url').toString('base64url') === segment);
}

/** The claims this server reads, checked: a refusal when `sub` or `rooms` is not usable. */
function identityOf(payload: JWTPayload): Identity | TokenRefusal {
  const { sub, name, rooms, exp, role } = payload;
  if (typeof sub !== 'string' || sub.trim() === '') return 'claims';
  let allowed: readonly string[] | null = null;
  if (rooms !== undefined) {
    if (!Array.isArray(rooms) || !rooms.every((room): room is string => typeof room === 'string')) return 'claims';
    allowed = Object.freeze([...rooms]);
  }
  return Object.freeze({
    sub,
    name: typeof name === 'string' ? name : null,
    rooms: allowed,
    expiresAt: typeof exp === 'number' ? exp * 1000 : null,
    role: role === 'moderator' || role === 'admin' ? role : null,
  });
}

/** jose's error codes, and the key set's KeysUnavailable, as the reason logged. */
function refusalOf(err: unknown): TokenRefusal {
  if (err instanceof KeysUnavailable) return 'keys_unavailable';
  const { code, claim } = (typeof err === 'object' && err !== null ? err : {}) as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claim === 'nbf' ? 'not_yet_valid' : 'claims';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return 'malformed';
    default:
      return 'malformed';
  }
}
