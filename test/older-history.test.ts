/**
 * Older history (issue #21): paging back through a room's 1000 messages, 100 at a time,
 * over Socket.IO (an ack) and raw JSON (a request frame), with nothing missing or
 * repeated, and again after a restart on the same SQLite file.
 */
import type { HistoryMessage } from '../server/protocol';
import { freshDataDir } from './support/data-dir';
import { connectRaw, type RawTestClient } from './support/raw-client';
import { rawRequest } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';

const COUNT = 1_000;
const PAGE = 100;

/** Posts COUNT messages (`m0` ... ) in order and resolves with their ids. */
async function postMany(client: SioTestClient): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < COUNT; start += PAGE) {
    const acks = await Promise.all(Array.from({ length: PAGE }, (_, i) => client.chat(`m${start + i}`)));
    for (const ack of acks) {
      if (!ack.ok) throw new Error(ack.error);
      ids.push(ack.id);
    }
  }
  return ids;
}

/** Pages back from the newest with `page(before)` until `more` is false; the ids, oldest first. */
async function pageBack(page: (before: string | undefined) => Promise<{ messages: HistoryMessage[]; more: boolean }>): Promise<string[]> {
  const pages: string[][] = [];
  let before: string | undefined;
  for (;;) {
    const { messages, more } = await page(before);
    expect(messages.length).toBe(more ? PAGE : COUNT % PAGE || PAGE);
    pages.unshift(messages.map((m) => m.id));
    if (!more) return pages.flat();
    before = messages[0]?.id;
  }
}

function sioPages(client: SioTestClient) {
  return async (before: string | undefined) => {
    const ack = await client.socket.emitWithAck('history', before === undefined ? { limit: PAGE } : { before, limit: PAGE });
    if (!ack.ok) throw new Error(ack.error);
    return ack;
  };
}

function rawPages(client: RawTestClient) {
  return async (before: string | undefined) => {
    const frame = await rawRequest(client, { type: 'history', limit: PAGE, ...(before === undefined ? {} : { before }) });
    if (frame.type !== 'history') throw new Error(JSON.stringify(frame));
    return frame as unknown as { messages: HistoryMessage[]; more: boolean };
  };
}

test.each([
  ['memory', { DATA_DIR: ':memory:' }],
  ['SQLite', {}],
])('1000 messages, pages of 100, over both wires (%s store)', async (_store, env) => {
  const server = await startTestServer({ ...env, RATE_LIMIT: '0', HISTORY_BYTES: String(64 * 1024 * 1024) });
  const poster = await connectSio(server.url, { auth: { name: 'poster' } });
  const ids = await postMany(poster);
  const reader = await connectSio(server.url, { auth: { name: 'reader' } });
  expect(await pageBack(sioPages(reader))).toEqual(ids);
  const raw = await connectRaw(server.url, { format: 'json' });
  expect(await pageBack(rawPages(raw))).toEqual(ids);
});

test('paging back works across a restart on the same SQLite file', async () => {
  const DATA_DIR = freshDataDir();
  const first = await startTestServer({ DATA_DIR, RATE_LIMIT: '0' });
  const ids = await postMany(await connectSio(first.url, { auth: { name: 'poster' } }));
  await first.close();
  const second = await startTestServer({ DATA_DIR });
  const reader = await connectSio(second.url, { auth: { name: 'reader' } });
  expect(await pageBack(sioPages(reader))).toEqual(ids);
});
