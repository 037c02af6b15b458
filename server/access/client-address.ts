import type { IncomingMessage } from 'node:http';
import type { Config } from '../config';
import { canonicalIp } from '../trusted-proxies';

/**
 * The address of the client that made `req`, the one every per-address rule uses
 * (connection caps, flood budgets, bans and mutes by `ip`, logs). Computed once per
 * handshake; never per message.
 *
 * Without a trusted proxy (TRUST_PROXY) it is the TCP peer, as Node reports it. When the
 * peer is a trusted proxy, it is the rightmost address of `X-Forwarded-For` (every such
 * header, in order) that is not itself a trusted proxy: each proxy appends the address
 * it was reached from, so everything to the left of the first untrusted hop is the
 * client's own say and could be made up. A malformed entry stops the walk for the same
 * reason, and its right neighbour (or the peer) is the client. A forwarded address is
 * given in one spelling (canonicalIp), so that it matches bans and counts as one.
 */
export function clientAddress(req: IncomingMessage, config: Pick<Config, 'trustProxy'>): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const proxies = config.trustProxy;
  if (proxies.none || !proxies.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return peer;
  const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i -= 1) {
    const hop = canonicalIp((hops[i] as string).trim());
    if (hop === null) break;
    client = hop;
    if (!proxies.has(hop)) break;
  }
  return client;
}
