/**
 * A delete removes the text from storage, not only from view (issue #21): after a clean
 * stop, the deleted words (and an edited-away text) are in no file under DATA_DIR, while
 * the message that was kept still is. A real server process, real clients.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDataDir } from './support/data-dir';
import { connectRaw } from './support/raw-client';
import { rawRequest } from './support/room-events';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { stop } from './support/stored-chat';

jest.setTimeout(60_000);

/** Whether any file under `dir` holds `word` (as UTF-8 bytes). */
function anyFileHolds(dir: string, word: string): boolean {
  const needle = Buffer.from(word, 'utf8');
  return readdirSync(dir).some((file) => readFileSync(join(dir, file)).includes(needle));
}

test('deleted and edited-away words are nowhere in DATA_DIR after a clean stop', async () => {
  const DATA_DIR = freshDataDir();
  const server = await spawnServer({ DATA_DIR });
  const alice = await connectSio(server.url, { auth: { name: 'alice' } });
  const raw = await connectRaw(server.url, { format: 'json', ack: '1', name: 'rae' });
  const secret = `password-${Date.now()}-hunter2`;
  const typo = `typo-${Date.now()}-teh`;
  const kept = `kept-${Date.now()}-words`;

  // Messages on both sides, so that the deleted one's bytes sit amid others on their page.
  for (let i = 0; i < 10; i += 1) await alice.chat(`before ${i} ${'.'.repeat(100)}`);
  const leaked = await alice.chat(`my ${secret}, oops ${'!'.repeat(200)}`);
  const edited = await rawRequest(raw, { type: 'chat', text: `a ${typo} here ${'?'.repeat(200)}` });
  const stays = await alice.chat(kept);
  for (let i = 0; i < 10; i += 1) await alice.chat(`after ${i} ${'.'.repeat(100)}`);
  if (!leaked.ok || !stays.ok || edited.type !== 'ack') throw new Error('not sent');
  // Stored: the words are on disk now (in the database or its write-ahead log).
  expect(anyFileHolds(DATA_DIR, secret)).toBe(true);
  expect(anyFileHolds(DATA_DIR, typo)).toBe(true);

  expect(await alice.socket.emitWithAck('delete', { id: leaked.id })).toEqual({ ok: true });
  expect(await rawRequest(raw, { type: 'edit', id: edited.id, text: 'a typo here, fixed' })).toMatchObject({ type: 'ack', version: 1 });
  alice.socket.close();
  await raw.close();
  await stop(server);

  expect(anyFileHolds(DATA_DIR, secret)).toBe(false);
  expect(anyFileHolds(DATA_DIR, typo)).toBe(false);
  expect(anyFileHolds(DATA_DIR, kept)).toBe(true);

  // What remains: the id, the time, that it was deleted.
  const again = await spawnServer({ DATA_DIR });
  const reader = await connectSio(again.url, { auth: { name: 'reader' } });
  const history = await reader.histories.next();
  const index = history.findIndex((m) => m.id === leaked.id);
  expect(history.slice(index, index + 3).map((m) => m.id)).toEqual([leaked.id, edited.id, stays.id]);
  expect(history[index]).toEqual({ id: leaked.id, at: expect.any(Number), deleted: true });
  expect(history[index + 1]).toMatchObject({ text: 'a typo here, fixed', version: 1 });
});
