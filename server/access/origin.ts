import type { IncomingMessage } from 'node:http';
import type { AllowedOrigins } from '../config';

/**
 * Browsers do not apply CORS to WebSocket handshakes, so any page on the web could open a
 * socket here in its visitor's name; the Origin header is the only defence. The policy is
 * Tornado's default (the seed's): same origin as the Host header, or no Origin at all
 * (curl, Node clients, native apps), plus the origins ALLOWED_ORIGINS lists, or any with "*".
 */
export function isOriginAllowed(req: IncomingMessage, allowed: AllowedOrigins): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed === '*') return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // includes "null", sent by sandboxed frames and file:// pages
  }
  const host = req.headers.host;
  if (host !== undefined && parsed.host.toLowerCase() === host.toLowerCase()) return true;
  return allowed.includes(parsed.origin);
}
