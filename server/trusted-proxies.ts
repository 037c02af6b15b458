import { BlockList, isIP, SocketAddress } from 'node:net';

/**
 * An IP address in one spelling: IPv6 compressed and in lower case, an IPv4-mapped IPv6
 * address as the IPv4 address (as bans name it, like support/ip.ts's plainIp, which sits
 * above the settings that read this file). null when `text` is not an address.
 */
export function canonicalIp(text: string): string | null {
  const version = isIP(text);
  if (version === 0) return null;
  const address = new SocketAddress({ address: text, family: version === 6 ? 'ipv6' : 'ipv4' }).address.toLowerCase();
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The family `BlockList` wants for an address; null when it is not one. */
function familyOf(address: string): 'ipv4' | 'ipv6' | null {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : null;
}

/**
 * TRUST_PROXY: the reverse proxies whose `X-Forwarded-For` is believed, each an address
 * or a CIDR range. Node's BlockList matches any spelling of an address, IPv4-mapped
 * IPv6 (`::ffff:127.0.0.1`) included.
 */
export class TrustedProxies {
  private readonly list = new BlockList();

  /** @param entries as TRUST_PROXY lists them, each checked by `parseEntry`. */
  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const range = TrustedProxies.parseEntry(entry);
      if (range === null) throw new Error(`not an address or CIDR range: ${entry}`);
      if (range.prefix === null) this.list.addAddress(range.address, range.family);
      else this.list.addSubnet(range.address, range.prefix, range.family);
    }
  }

  /** `10.0.0.7`, `::1`, `::ffff:10.0.0.7`, `10.0.0.0/8` or `fd00::/8`; null when it is none of those. */
  static parseEntry(entry: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number | null } | null {
    const [text = '', prefixText, ...rest] = entry.trim().split('/');
    const address = canonicalIp(text);
    if (address === null || rest.length > 0) return null;
    const family = familyOf(address) as 'ipv4' | 'ipv6';
    if (prefixText === undefined) return { address, family, prefix: null };
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    // A mapped range (`::ffff:10.0.0.0/104`) is the IPv4 range it maps.
    const prefix = Number(prefixText) - (family === 'ipv4' && isIP(text) === 6 ? 96 : 0);
    return prefix >= 0 && prefix <= (family === 'ipv4' ? 32 : 128) ? { address, family, prefix } : null;
  }

  /** No proxy is trusted (TRUST_PROXY empty): every request's peer is its client. */
  get none(): boolean {
    return this.entries.length === 0;
  }

  /** Whether `address` (as Node reports a peer, or as a proxy forwards it) is a trusted proxy's. */
  has(address: string): boolean {
    const family = familyOf(address);
    return family !== null && this.list.check(address, family);
  }
}
