import type { Request } from 'express';
import { ApiError, ApiErrorCode } from './errors';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The most JSON a body may hold for a message of `maxMessageBytes`: a text of control
 * characters is six times longer escaped (`\u0001`), plus room for the name and braces.
 */
export function bodyLimit(maxMessageBytes: number): number {
  return maxMessageBytes * 6 + 1024;
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/**
 * The request's JSON body. Not express.json(): on a body over the limit it reads the
 * whole rest before answering, so a client could make the server read gigabytes to
 * hear 413. Here a declared length over the limit is refused before a byte is read,
 * and a chunked body as soon as it passes the limit; the connection then closes.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  if (!isJson(req.headers['content-type'])) throw new ApiError(415, ApiErrorCode.UnsupportedMediaType);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError(413, ApiErrorCode.TooLarge);
  const bytes = await readUpTo(req, limit);
  try {
    return JSON.parse(utf8.decode(bytes)) as unknown;
  } catch {
    throw new ApiError(400, ApiErrorCode.InvalidJson);
  }
}

function readUpTo(req: Request, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = (err: ApiError | null) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onError);
      if (err === null) resolve(Buffer.concat(chunks, length));
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        req.pause();
        stop(new ApiError(413, ApiErrorCode.TooLarge));
      } else chunks.push(chunk);
    };
    const onEnd = () => stop(null);
    // The client went away mid-body: nobody is left to answer, but the handler must end.
    const onError = () => stop(new ApiError(400, ApiErrorCode.InvalidJson));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onError);
  });
}
