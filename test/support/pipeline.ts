import { connect, type Socket } from 'node:net';
import { MAX_REQUESTS_IN_FLIGHT } from '../../server/edge/http-guard';
import { onCleanup } from './cleanup';

export interface PipelinedResponse {
  status: number;
  body: string;
}

/**
 * The end of one HTTP/1.1 response at the start of `data` (Content-Length or chunked
 * body), or null when it has not all arrived yet.
 */
function parseResponse(data: Buffer): { response: PipelinedResponse; length: number } | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine = '', ...headerLines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers = new Map(
    headerLines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  let offset = headEnd + 4;
  const contentLength = headers.get('content-length');
  if (contentLength !== undefined) {
    const end = offset + Number(contentLength);
    if (data.length < end) return null;
    return { response: { status, body: data.subarray(offset, end).toString('utf8') }, length: end };
  }
  if (headers.get('transfer-encoding') !== 'chunked') return { response: { status, body: '' }, length: offset };
  const chunks: Buffer[] = [];
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) return null;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    const end = lineEnd + 2 + size + 2;
    if (data.length < end) return null;
    if (size === 0) return { response: { status, body: Buffer.concat(chunks).toString('utf8') }, length: end };
    chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = end;
  }
}

/**
 * Writes `requests` (complete HTTP/1.1 requests) on one TCP connection in a single
 * write, as an HTTP-pipelining client may, and resolves with the responses in order
 * once all have arrived. Rejects if the server closes the connection first.
 */
export function pipeline(baseUrl: string, requests: string[], localAddress = '127.0.0.1'): Promise<PipelinedResponse[]> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect({ port: Number(port), host: hostname, localAddress });
  onCleanup('clients', () => socket.destroy());
  socket.write(requests.join(''));
  return new Promise((resolve, reject) => {
    const responses: PipelinedResponse[] = [];
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      for (let parsed = parseResponse(data); parsed !== null; parsed = parseResponse(data)) {
        responses.push(parsed.response);
        data = data.subarray(parsed.length);
      }
      if (responses.length < requests.length) return;
      socket.destroy();
      resolve(responses);
    });
    socket.on('error', reject);
    socket.on('close', () =>
      reject(new Error(`connection closed after ${responses.length} of ${requests.length} responses`)),
    );
  });
}

/** A GET request as a pipelining client writes it. */
export function getRequest(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
}

/** A POST request with a text body. */
export function postRequest(path: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * `requests` pipelined in groups of MAX_REQUESTS_IN_FLIGHT (more on one connection and
 * the server closes it, see server/http-guard.ts), each group in one write on a
 * connection of its own, all at once; the responses in the order of `requests`.
 */
export async function pipelineInGroups(
  baseUrl: string,
  requests: string[],
  localAddress = '127.0.0.1',
): Promise<PipelinedResponse[]> {
  const groups: string[][] = [];
  for (let i = 0; i < requests.length; i += MAX_REQUESTS_IN_FLIGHT) groups.push(requests.slice(i, i + MAX_REQUESTS_IN_FLIGHT));
  const answers = await Promise.all(groups.map((group) => pipeline(baseUrl, group, localAddress)));
  return answers.flat();
}

/** The path of an Engine.IO long-polling handshake. */
export const POLLING_HANDSHAKE = '/socket.io/?EIO=4&transport=polling';

/** The sid of an Engine.IO open packet (`0{"sid":...}`), or null for any other answer. */
export function sessionOf(response: PipelinedResponse): string | null {
  if (response.status !== 200 || !response.body.startsWith('0{"sid"')) return null;
  return (JSON.parse(response.body.slice(1)) as { sid: string }).sid;
}

export interface UnreadPipeline {
  /** Starts reading at last, and resolves with how many responses came before the connection closed. */
  drain(): Promise<number>;
}

/**
 * A client that writes `count` pipelined GETs of `path` in one write and then stops
 * reading, as a hostile client may: its answers pile up on the server unless the server
 * stops it.
 */
export function pipelineUnread(url: string, path: string, count: number): Promise<UnreadPipeline> {
  const { hostname, port } = new URL(url);
  const request = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), hostname, () => {
      socket.write(request.repeat(count));
      socket.pause();
      resolve({
        drain: () =>
          new Promise<number>((done) => {
            let responses = 0;
            let tail = '';
            socket.setEncoding('latin1');
            socket.on('data', (chunk: string) => {
              const text = tail + chunk;
              responses += text.split('HTTP/1.1 ').length - 1;
              tail = text.slice(-8);
            });
            socket.once('close', () => done(responses));
            socket.resume();
          }),
      });
    });
    // A connection the server cut may report ECONNRESET; that is the outcome wanted.
    socket.on('error', () => {});
    socket.once('error', reject);
    onCleanup('clients', () => socket.destroy());
  });
}
