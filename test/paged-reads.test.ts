/**
 * Reading history costs the server a bounded amount, whatever the messages hold and
 * whoever reads: a raw resume (`?since=`) is paged as the client drains, an API answer is
 * bounded in bytes, and a Socket.IO newcomer's `history` packet is bounded as sent (JSON,
 * where a control character takes six bytes).
 */
import { readFileSync } from 'node:fs';
import type { ChatMessage, RawJsonFrame } from '../server/protocol';
import { jsonBytes } from '../server/support/json-bytes';
import { connectEngineClient, tcpWebSocketPeer } from './support/peers';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { startTestServer } from './support/server';
import { spawnServer } from './support/spawn-server';

const API_KEY = 'paged-reads-key';
/** A message of MAX_MESSAGE_BYTES (64 KiB), nearly all U+0001: 384 KiB once JSON escapes it. */
const controlText = (i: number) => `${i} `.padEnd(64 * 1024, '\u0001');
const STORED = 120;

async function api(url: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, text: await res.text() };
}

/** Stores `count` messages of control characters in `room` through the API; their ids, oldest first. */
async function fill(url: string, room: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const posted = await api(url, `/api/rooms/${room}/messages`, { text: controlText(i), name: 'filler' });
    expect(posted.status).toBe(201);
    ids.push((JSON.parse(posted.text) as { id: string }).id);
  }
  return ids;
}

/** The resident memory of process `pid`, in bytes, as the kernel counts it. */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** Sends `text` in the lobby from `from` and resolves once `to` has it. */
async function roundTrip(from: RawTestClient, to: RawTestClient, text: string): Promise<void> {
  from.send(text);
  for (;;) {
    const frame = await to.nextJson(5_000);
    if (frame.type === 'chat' && frame.text === text) return;
  }
}

const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

describeOnLinux('a raw client resuming with ?since= (server memory read from /proc)', () => {
  it('is sent what it missed only as fast as it reads: one that never reads costs the server a page, and the lobby goes on', async () => {
    const server = await spawnServer({ API_KEY, API_RATE_LIMIT: '0' });
    const pid = server.child.pid as number;
    const ids = await fill(server.url, 'big', STORED);
    const ann = await connectRaw(server.url, { name: 'ann', format: 'json' });
    const bob = await connectRaw(server.url, { name: 'bob', format: 'json' });
    await roundTrip(ann, bob, 'before');
    const before = residentBytes(pid);

    // Everything after the oldest: 119 x 384 KiB as JSON, some 45 MB, to a reader that never reads.
    const stalled = await tcpWebSocketPeer(server.url, `/socket/big?format=json&since=${ids[0]}`);
    for (let i = 0; i < 20; i += 1) await roundTrip(ann, bob, `meanwhile ${i}`);
    expect(stalled.destroyed).toBe(false);
    expect(residentBytes(pid) - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('gets every message it missed, in order, then its join and live traffic, when it reads', async () => {
    const server = await spawnServer({ API_KEY, API_RATE_LIMIT: '0' });
    const ids = await fill(server.url, 'big', STORED);
    const resumer = await connectRaw(server.url, { name: 'resumer', format: 'json', since: ids[0] as string }, {}, { room: 'big' });
    const chats: string[] = [];
    let frame: RawJsonFrame;
    for (;;) {
      frame = await resumer.nextJson(15_000);
      if (frame.type !== 'chat') break;
      chats.push(frame.id);
    }
    expect(chats).toEqual(ids.slice(1));
    expect(frame).toMatchObject({ type: 'notice', kind: 'join', name: 'resumer' });
    const live = await connectRaw(server.url, { name: 'live' }, {}, { room: 'big' });
    live.send('after the resume');
    let next: RawJsonFrame;
    do next = await resumer.nextJson();
    while (next.type !== 'chat');
    expect(next.text).toBe('after the resume');
  });
});

describe('the HTTP API reading history', () => {
  it('answers at most 1 MiB of messages as JSON, and `more` leads to the rest', async () => {
    const server = await startTestServer({ API_KEY, API_RATE_LIMIT: '0' });
    const ids = await fill(server.url, 'big', 12);
    const newest = await api(server.url, '/api/rooms/big/messages?limit=1000');
    expect(newest.status).toBe(200);
    expect(Buffer.byteLength(newest.text)).toBeLessThanOrEqual(1024 * 1024 + 1024);
    const page = JSON.parse(newest.text) as { messages: ChatMessage[]; complete: boolean; more: boolean };
    expect(page.more).toBe(true);
    expect(page.messages.map((m) => m.id)).toEqual(ids.slice(ids.length - page.messages.length));

    const walked: string[] = [];
    let since = ids[0] as string;
    for (;;) {
      const answer = await api(server.url, `/api/rooms/big/messages?limit=1000&since=${since}`);
      expect(Buffer.byteLength(answer.text)).toBeLessThanOrEqual(1024 * 1024 + 1024);
      const next = JSON.parse(answer.text) as { messages: ChatMessage[]; more: boolean };
      walked.push(...next.messages.map((m) => m.id));
      if (!next.more) break;
      since = walked.at(-1) as string;
    }
    expect(walked).toEqual(ids.slice(1));
  });
});

describe('a Socket.IO newcomer’s history', () => {
  it('is at most HISTORY_BYTES as sent, however much JSON escapes the messages', async () => {
    const historyBytes = 200_000;
    const server = await startTestServer({ HISTORY_BYTES: String(historyBytes) });
    const sender = await connectRaw(server.url, { name: 'sender', format: 'json' });
    // 20 000 characters of text, 120 000 bytes as JSON: two fit in HISTORY_BYTES of text, one as sent.
    const texts = Array.from({ length: 4 }, (_, i) => `${i}${'\u0001'.repeat(20_000)}`);
    for (const text of texts) sender.send(text);
    let echoes = 0;
    while (echoes < texts.length) if ((await sender.nextJson()).type === 'chat') echoes += 1;

    const newcomer = await connectEngineClient(server.url);
    const packet = await newcomer.packets.next();
    expect(packet.startsWith('42["history",')).toBe(true);
    const history = (JSON.parse(packet.slice(2)) as [string, ChatMessage[]])[1];
    expect(history.map((m) => m.text)).toEqual(texts.slice(texts.length - history.length));
    expect(history.reduce((sum, m) => sum + jsonBytes(m), 0)).toBeLessThanOrEqual(historyBytes);
    expect(Buffer.byteLength(packet)).toBeLessThanOrEqual(historyBytes + 64);
  });
});
