import { specProblems } from './openapi';

/** The API key the tests' servers are given. */
export const API_TEST_KEY = 'backend-key';

/** An answer, its body typed as the caller expects it (callApi has checked it against the spec). */
export interface ApiAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ApiCallOptions {
  /** Sent as JSON with Content-Type application/json. */
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
  /** The bearer token (API_TEST_KEY unless given); null: no Authorization header. */
  key?: string | null;
}

/**
 * One HTTP API request. Every answer is checked against docs/openapi.yaml and for
 * `Cache-Control: no-store`, so that each test checks the spec along the way.
 */
export async function callApi<T = unknown>(url: string, method: string, path: string, options: ApiCallOptions = {}): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const key = options.key === undefined ? API_TEST_KEY : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  if (method !== 'HEAD') expect(specProblems(path, method, res.status, parsed)).toEqual([]);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** POSTs a message to `room`; `headers` adds to the request's (an Idempotency-Key, say). */
export const postMessage = (url: string, room: string, json: unknown, headers: Record<string, string> = {}) =>
  callApi<{ id: string; at: number }>(url, 'POST', `/api/rooms/${room}/messages`, { json, headers });
