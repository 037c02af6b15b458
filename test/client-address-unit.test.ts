/**
 * clientAddress (server/access/client-address.ts): who made a request, given TRUST_PROXY.
 * The request is a stand-in with only what the function reads: the peer and the headers.
 */
import type { IncomingMessage } from 'node:http';
import { clientAddress } from '../server/access/client-address';
import { TrustedProxies } from '../server/trusted-proxies';

function request(peer: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

const trusting = (...entries: string[]) => ({ trustProxy: new TrustedProxies(entries) });

describe('clientAddress', () => {
  it('is the peer, as Node reports it, when no proxy is trusted: the header is ignored', () => {
    expect(clientAddress(request('127.0.0.1', '6.6.6.6'), trusting())).toBe('127.0.0.1');
    expect(clientAddress(request('::ffff:127.0.0.1', '6.6.6.6'), trusting())).toBe('::ffff:127.0.0.1');
    expect(clientAddress(request(undefined, '6.6.6.6'), trusting())).toBe('unknown');
  });

  it('ignores the header of a peer that is not trusted', () => {
    expect(clientAddress(request('127.0.0.2', '6.6.6.6'), trusting('127.0.0.1'))).toBe('127.0.0.2');
    expect(clientAddress(request('10.1.0.1', '6.6.6.6'), trusting('10.0.0.0/16'))).toBe('10.1.0.1');
  });

  it('is the peer when a trusted proxy sends no header, or an empty one', () => {
    expect(clientAddress(request('127.0.0.1'), trusting('127.0.0.1'))).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', ''), trusting('127.0.0.1'))).toBe('127.0.0.1');
  });

  it('takes the rightmost address that is not a trusted proxy', () => {
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 10.0.0.7'), trusting('127.0.0.1'))).toBe('10.0.0.7');
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 10.0.0.7'), trusting('127.0.0.1', '10.0.0.7'))).toBe('6.6.6.6');
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, 10.0.0.7, 10.0.0.8'), trusting('127.0.0.1', '10.0.0.0/8'))).toBe('6.6.6.6');
  });

  it('reads every X-Forwarded-For header, in order, as one list', () => {
    // Node joins repeated headers with ", "; a stand-in with an array covers the other way.
    expect(clientAddress(request('127.0.0.1', ['6.6.6.6', '10.0.0.7']), trusting('127.0.0.1'))).toBe('10.0.0.7');
    expect(clientAddress(request('127.0.0.1', ['6.6.6.6', '10.0.0.7']), trusting('127.0.0.1', '10.0.0.7'))).toBe('6.6.6.6');
  });

  it('is the leftmost address when every one is a trusted proxy', () => {
    expect(clientAddress(request('127.0.0.1', '10.0.0.8, 10.0.0.7'), trusting('127.0.0.1', '10.0.0.0/8'))).toBe('10.0.0.8');
  });

  it('stops at a malformed entry: its right neighbour, or the peer, never what is left of it', () => {
    const proxies = trusting('127.0.0.1', '10.0.0.7');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4, garbage, 10.0.0.7'), proxies)).toBe('10.0.0.7');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4, garbage'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4, , 10.0.0.7'), proxies)).toBe('10.0.0.7');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4,'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4:5678'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '[2001:db8::1]'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', 'unknown'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '1.2.3.4 5.6.7.8'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '300.1.2.3'), proxies)).toBe('127.0.0.1');
  });

  it('allows spaces and tabs around entries', () => {
    expect(clientAddress(request('127.0.0.1', ' 6.6.6.6 ,\t10.0.0.7\t'), trusting('127.0.0.1', '10.0.0.7'))).toBe('6.6.6.6');
    expect(clientAddress(request('127.0.0.1', '6.6.6.6,10.0.0.7'), trusting('127.0.0.1'))).toBe('10.0.0.7');
  });

  it('gives a forwarded address in one spelling: IPv6 compressed and lower case, IPv4-mapped as IPv4', () => {
    const proxies = trusting('127.0.0.1');
    expect(clientAddress(request('127.0.0.1', '2001:DB8:0:0::1'), proxies)).toBe('2001:db8::1');
    expect(clientAddress(request('127.0.0.1', '::FFFF:6.6.6.6'), proxies)).toBe('6.6.6.6');
    expect(clientAddress(request('127.0.0.1', '::1'), proxies)).toBe('::1');
  });

  it('trusts a peer in any spelling: IPv4-mapped, IPv6, and ranges of both', () => {
    expect(clientAddress(request('::ffff:127.0.0.1', '6.6.6.6'), trusting('127.0.0.1'))).toBe('6.6.6.6');
    expect(clientAddress(request('127.0.0.1', '6.6.6.6'), trusting('::ffff:127.0.0.1'))).toBe('6.6.6.6');
    expect(clientAddress(request('::1', '6.6.6.6'), trusting('::1'))).toBe('6.6.6.6');
    expect(clientAddress(request('fd00::5', '6.6.6.6'), trusting('fd00::/8'))).toBe('6.6.6.6');
    expect(clientAddress(request('::ffff:10.9.8.7', '6.6.6.6'), trusting('10.0.0.0/8'))).toBe('6.6.6.6');
    expect(clientAddress(request('10.9.8.7', '6.6.6.6'), trusting('::ffff:10.0.0.0/104'))).toBe('6.6.6.6');
    // A forwarded hop in IPv4-mapped form is the trusted IPv4 proxy too.
    expect(clientAddress(request('127.0.0.1', '6.6.6.6, ::ffff:10.0.0.7'), trusting('127.0.0.1', '10.0.0.7'))).toBe('6.6.6.6');
  });
});

describe('TrustedProxies.parseEntry', () => {
  it.each([['127.0.0.1'], ['::1'], ['::ffff:127.0.0.1'], ['10.0.0.0/8'], ['0.0.0.0/0'], ['fd00::/8'], ['::/0'], [' 10.0.0.7 ']])('reads %s', (entry) => {
    expect(TrustedProxies.parseEntry(entry)).not.toBeNull();
  });

  it.each([['nginx'], [''], ['10.0.0.0/33'], ['fd00::/129'], ['10.0.0.0/'], ['10.0.0.0/-1'], ['10.0.0.1:80'], ['10.0.0.0/8/8'], ['::ffff:10.0.0.0/95']])('refuses %s', (entry) => {
    expect(TrustedProxies.parseEntry(entry)).toBeNull();
  });
});
