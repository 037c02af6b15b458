/**
 * Host names as a Host header carries them: parsed for ALLOWED_HOSTS (config) and for
 * each request (access/hosts.ts). Imports nothing.
 */

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
