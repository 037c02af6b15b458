import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onCleanup } from './cleanup';

export type SigningAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';

/** A key that signs test tokens, and the server settings that verify them. */
export interface SigningKey {
  readonly alg: SigningAlgorithm;
  readonly key: Uint8Array | CryptoKey;
  /** JWT_SECRET or JWT_PUBLIC_KEY, as the server's environment. */
  readonly env: Record<string, string>;
  /** The public key as PEM (asymmetric keys only): what an attacker might use as an HMAC secret. */
  readonly pem: string | null;
  readonly publicKey: CryptoKey | null;
}

/** A fresh key of `alg`: a random secret for HS256, a key pair (public half in a temp PEM file) otherwise. */
export async function signingKey(alg: SigningAlgorithm): Promise<SigningKey> {
  if (alg === 'HS256') {
    const secret = `secret-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    return { alg, key: new TextEncoder().encode(secret), env: { JWT_SECRET: secret }, pem: null, publicKey: null };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pem = await exportSPKI(publicKey);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'chat-jwt-')), `${alg}.pem`);
  writeFileSync(file, pem);
  return { alg, key: privateKey, env: { JWT_PUBLIC_KEY: file }, pem, publicKey };
}

/** Seconds since the epoch, as `exp` and `nbf` count. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A token signed with `signer`, valid for an hour unless the claims say otherwise;
 * `header` is merged into the protected header (a `kid`, another `alg`).
 */
export function signToken(
  signer: { alg: string; key: Uint8Array | CryptoKey },
  claims: JWTPayload = { sub: 'user-1' },
  header: Record<string, string> = {},
): Promise<string> {
  return new SignJWT({ exp: nowSeconds() + 3600, ...claims }).setProtectedHeader({ alg: signer.alg, ...header }).sign(signer.key);
}

/** How a JWKS response ended: written whole, or cut by the client before its end. */
export type ResponseOutcome = 'finished' | 'cut';

/** A JWKS endpoint on 127.0.0.1: the key set can change, and the endpoint can hang, fail or bloat. */
export interface JwksServer {
  readonly url: string;
  /** Replaces the published keys. */
  publish(keys: JWK[]): void;
  /** While true, requests get no answer at all. */
  hang: boolean;
  /** While set, requests are answered with this status and no key set. */
  failWith: number | null;
  /**
   * While set, the key set is padded (a `padding` member) to this many bytes and written
   * as fast as the client reads, with its length declared or chunked.
   */
  padTo: { bytes: number; declared: boolean } | null;
  /** How many requests it has received. */
  readonly requests: number;
  /** How each answered response ended, in order. */
  readonly outcomes: readonly ResponseOutcome[];
}

/** One write of a padded key set. */
const PAD_CHUNK = Buffer.alloc(64 * 1024, 'x');

export async function startJwksServer(): Promise<JwksServer> {
  let keys: JWK[] = [];
  let requests = 0;
  const outcomes: ResponseOutcome[] = [];
  const state: Pick<JwksServer, 'hang' | 'failWith' | 'padTo'> = { hang: false, failWith: null, padTo: null };
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    requests += 1;
    res.once('close', () => outcomes.push(res.writableFinished ? 'finished' : 'cut'));
    if (state.hang) return;
    if (state.failWith !== null) {
      res.writeHead(state.failWith, { 'Content-Type': 'text/plain' });
      res.end('unavailable');
      return;
    }
    const body = JSON.stringify({ keys });
    if (state.padTo === null) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    // A valid key set all the same: `{"keys":[...],"padding":"xxx...x"}`.
    const head = Buffer.from(`${body.slice(0, -1)},"padding":"`);
    const tail = Buffer.from('"}');
    const total = Math.max(state.padTo.bytes, head.length + tail.length);
    res.writeHead(200, { 'Content-Type': 'application/json', ...(state.padTo.declared ? { 'Content-Length': String(total) } : {}) });
    res.write(head);
    let left = total - head.length - tail.length;
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        const chunk = left >= PAD_CHUNK.length ? PAD_CHUNK : PAD_CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end(tail);
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup('servers', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    publish: (next) => (keys = next),
    get hang() {
      return state.hang;
    },
    set hang(value: boolean) {
      state.hang = value;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(value: number | null) {
      state.failWith = value;
    },
    get padTo() {
      return state.padTo;
    },
    set padTo(value: { bytes: number; declared: boolean } | null) {
      state.padTo = value;
    },
    get requests() {
      return requests;
    },
    outcomes,
  };
}

/** A key pair for a JWKS: the private key to sign with, the public JWK (with `kid` and `alg`) to publish. */
export async function jwksKey(alg: 'RS256' | 'ES256' | 'EdDSA', kid: string): Promise<{ alg: string; key: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}
