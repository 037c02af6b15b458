import http from 'node:http';
import https from 'node:https';

/** Why a request to a hook got no usable answer; the `reason` of its log line and metric. */
export type PostFailure = 'timeout' | 'unreachable' | 'tls' | 'redirect' | 'too_large' | 'error';

export class PostError extends Error {
  constructor(
    readonly reason: PostFailure,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'PostError';
  }
}

export interface PostOptions {
  headers: Record<string, string>;
  /** The whole exchange, from the request to the end of what is read of the answer. */
  timeoutMs: number;
  /** The most of the answer's body that is read; past it the request fails (`too_large`). 0: the status is all that counts, the body is not read. */
  maxBodyBytes: number;
}

/** An answer: its status and (when asked for) its body. */
export interface PostAnswer {
  status: number;
  body: Buffer;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL/;

function failureOf(err: NodeJS.ErrnoException): PostError {
  if (err instanceof PostError) return err;
  const code = err.code ?? '';
  if (TLS_CODES.test(code)) return new PostError('tls', `${code} ${err.message}`);
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE'].includes(code)) return new PostError('unreachable', `${code} ${err.message}`);
  return new PostError('error', err.message);
}

/**
 * POSTs JSON to one URL over kept-alive connections (node:http: a bounded read of the
 * answer and a deadline over the whole exchange, which fetch does not give without
 * reading the body). Whatever the peer does (hang, answer a byte at a time, redirect,
 * send a gigabyte) the request ends by the deadline, holding at most `maxBodyBytes`;
 * a redirect is not followed.
 */
export class HookClient {
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;

  constructor(
    readonly url: URL,
    maxSockets: number,
  ) {
    const secure = url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets }) : new http.Agent({ keepAlive: true, maxSockets });
    this.request = secure ? https.request : http.request;
  }

  post(body: string, options: PostOptions): Promise<PostAnswer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: PostError | null, answer?: PostAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err === null) resolve(answer as PostAnswer);
        else reject(err);
      };
      const req = this.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...options.headers },
      });
      const deadline = setTimeout(() => req.destroy(new PostError('timeout', `no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      req.on('error', (err) => finish(failureOf(err)));
      req.on('response', (res) => {
        res.on('error', (err) => finish(failureOf(err)));
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          res.destroy();
          finish(new PostError('redirect', `${status} to ${res.headers.location ?? '(no location)'}, not followed`));
          return;
        }
        const declared = Number(res.headers['content-length'] ?? 0);
        if (options.maxBodyBytes === 0) {
          // Only the status counts. A short body is read so that the connection is kept;
          // a long one (or one of unknown length) costs the connection instead.
          const bodiless = status === 204 || status === 304 || res.headers['content-length'] === '0';
          if (bodiless || (declared > 0 && declared <= 64 * 1024)) res.resume();
          else res.destroy();
          finish(null, { status, body: Buffer.alloc(0) });
          return;
        }
        if (declared > options.maxBodyBytes) {
          res.destroy();
          finish(new PostError('too_large', `answer of ${declared} bytes, past ${options.maxBodyBytes}`));
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > options.maxBodyBytes) {
            res.destroy();
            finish(new PostError('too_large', `answer past ${options.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => finish(null, { status, body: Buffer.concat(chunks, length) }));
        res.on('close', () => finish(new PostError('unreachable', 'connection closed before the answer ended')));
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
