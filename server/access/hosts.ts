import type { IncomingMessage } from 'node:http';
import { parseHost, type AllowedHosts } from '../host-name';

export type { AllowedHost, AllowedHosts } from '../host-name';

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
