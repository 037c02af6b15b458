/**
 * The connection caps against clients that do not play fair: many handshakes on one
 * TCP connection at once, and sessions that never prove they hold CHAT_TOKEN.
 */
import { httpGet, upgradeStatus } from './support/http-upgrade';
import { getRequest, pipeline, postRequest, type PipelinedResponse } from './support/pipeline';
import WebSocket from 'ws';
import { onCleanup } from './support/cleanup';
import { rawUrl } from './support/raw-client';
import { eventually } from './support/room-log';
import { startTestServer } from './support/server';

const POLLING = '/socket.io/?EIO=4&transport=polling';

/** The sid of an Engine.IO open packet (`0{"sid":...}`), or null for any other answer. */
function sessionOf(response: PipelinedResponse): string | null {
  if (response.status !== 200 || !response.body.startsWith('0{"sid"')) return null;
  return (JSON.parse(response.body.slice(1)) as { sid: string }).sid;
}

/** chat_connections{transport="socket.io"} as an operator reads it from /metrics. */
async function socketIoConnections(url: string): Promise<number> {
  const { body } = await httpGet(`${url}/metrics`);
  const match = /^chat_connections\{transport="socket\.io"\} (\d+)$/m.exec(body);
  return match ? Number(match[1]) : NaN;
}

/** A raw `/socket` client from `localAddress`; resolves once open, rejects with the refusal. */
function openRaw(url: string, localAddress: string, query: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(rawUrl(url, query), { localAddress });
  onCleanup('clients', () => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused with HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

describe('pipelined long-polling handshakes', () => {
  it('get no more sessions than the caps allow, and the slots come back when they close', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS: '10', MAX_CONNECTIONS_PER_IP: '5' });

    // Sixty handshakes in one write from each of three addresses.
    const sids: string[] = [];
    for (const address of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      const responses = await pipeline(server.url, Array(60).fill(getRequest(POLLING)), address);
      const admitted = responses.map(sessionOf).filter((sid): sid is string => sid !== null);
      expect(admitted.length).toBeLessThanOrEqual(5);
      const refused = responses.filter((r) => sessionOf(r) === null);
      expect(refused.filter((r) => r.status !== 429 && r.status !== 503)).toEqual([]);
      sids.push(...admitted);
    }
    expect(sids.length).toBeGreaterThanOrEqual(1);
    expect(sids.length).toBeLessThanOrEqual(10);

    // Each session says goodbye (an Engine.IO close packet), as a client leaving does.
    await pipeline(server.url, sids.map((sid) => postRequest(`${POLLING}&sid=${sid}`, '1')));
    await eventually(async () => (await socketIoConnections(server.url)) === 0, 'the sessions to close');

    // Handshakes that pass the caps and then fail must give their slot back.
    const failing = [
      getRequest('/socket.io/?EIO=3&transport=polling'), // protocol no longer supported
      postRequest(POLLING, ''), // a handshake must be a GET
      getRequest('/socket.io/?EIO=4&transport=websocket'), // websocket without an upgrade
      getRequest('/socket.io/?EIO=4&transport=carrier-pigeon'),
    ];
    for (let i = 0; i < 5; i += 1) {
      const responses = await pipeline(server.url, failing);
      expect(responses.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    }
    for (let i = 0; i < 5; i += 1) {
      expect(
        await upgradeStatus(server.url, '/socket.io/?EIO=4&transport=websocket', { 'Sec-WebSocket-Key': 'not a key' }),
      ).toBe(400);
    }

    // Not one slot leaked: ten clients fit again, five per address, and the eleventh does not.
    const clients: Promise<WebSocket>[] = [];
    for (let i = 0; i < 5; i += 1) {
      clients.push(openRaw(server.url, '127.0.0.1'));
      clients.push(openRaw(server.url, '127.0.0.2'));
    }
    await Promise.all(clients);
    await expect(openRaw(server.url, '127.0.0.3')).rejects.toThrow('HTTP 503');
  });
});
