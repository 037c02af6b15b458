import type { IncomingMessage } from 'node:http';

/** One entry of ALLOWED_HOSTS: a host name (lower case; IPv6 in brackets) and, optionally, a port. */
export interface AllowedHost {
  readonly hostname: string;
  /** null: any port. */
  readonly port: number | null;
}

/** An empty list: any Host is served (no ALLOWED_HOSTS). */
export type AllowedHosts = readonly AllowedHost[];

// A DNS name or IPv4 address, or an IPv6 address in brackets, then an optional port:
// what a Host header carries, and nothing else (no scheme, user, path).
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/;

/** `chat.example.com` or `chat.example.com:8443`, case-insensitive; null when it is not one. */
export function parseHost(text: string): AllowedHost | null {
  const match = HOST.exec(text.trim().toLowerCase());
  if (match === null) return null;
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { hostname: match[1] as string, port };
}

/**
 * DNS rebinding: a page on an attacker's name that resolves to this server is same-origin
 * with itself, so the Origin check (which compares Origin with Host) lets it in. Only the
 * Host header shows the name the browser thinks it is talking to; when ALLOWED_HOSTS is
 * set, it must be one of ours.
 */
export function isHostAllowed(req: IncomingMessage, allowed: AllowedHosts): boolean {
  if (allowed.length === 0) return true;
  const header = req.headers.host;
  const host = header === undefined ? null : parseHost(header);
  if (host === null) return false;
  return allowed.some((entry) => entry.hostname === host.hostname && (entry.port === null || entry.port === host.port));
}

/**
 * The body of the refusal: one line. The status is 421 Misdirected Request, not 403: the
 * client is not refused for who it is, the request names a host this server does not
 * serve (RFC 9110 15.5.20), and logs and metrics keep it apart from origin refusals.
 * The Host is quoted (JSON) so that nothing in it reads as more text.
 */
export function misdirectedText(req: IncomingMessage): string {
  return `Host ${JSON.stringify(req.headers.host ?? '')} is not served here; use one of this server's names`;
}
