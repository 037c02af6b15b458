/**
 * Bad input to edits, deletes, reactions, history pages and read markers: each gets its
 * refusal, and nothing changes for anyone (the room hears nothing, the message stays).
 */
import { ActionError, MAX_REACTIONS, type ChatMessage } from '../server/protocol';
import { connectRaw } from './support/raw-client';
import { changeQueues, rawRequest } from './support/room-events';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

test('every refusal, and the room hears none of them', async () => {
  const server = await startTestServer({ DATA_DIR: ':memory:', MAX_MESSAGE_BYTES: '100', RATE_LIMIT: '0' });
  const alice = await connectSio(server.url, { auth: { name: 'alice' } });
  const watcher = await connectSio(server.url, { auth: { name: 'watcher' } });
  const changes = changeQueues(watcher.socket, 'watcher');
  const sent = await alice.chat('the original');
  if (!sent.ok) throw new Error(sent.error);
  const { socket } = alice;
  const refusal = (error: string) => ({ ok: false, error });

  // Not an id, not one of this room's, too long, blank, of the wrong shape.
  expect(await socket.emitWithAck('edit', { id: 'nope', text: 'x' })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('edit', { id: sent.id, text: 'x'.repeat(101) })).toEqual(refusal(ActionError.TooLarge));
  expect(await socket.emitWithAck('edit', { id: sent.id, text: '   ' })).toEqual(refusal(ActionError.Empty));
  expect(await (socket.emitWithAck as (event: string, payload: unknown) => Promise<unknown>)('edit', 'just text')).toEqual(refusal(ActionError.Invalid));
  expect(await (socket.emitWithAck as (event: string, payload: unknown) => Promise<unknown>)('delete', null)).toEqual(refusal(ActionError.Invalid));
  const other = await connectSio(server.url, { auth: { name: 'alice' }, room: 'elsewhere' });
  expect(await other.socket.emitWithAck('edit', { id: sent.id, text: 'from another room' })).toEqual(refusal(ActionError.NotFound));
  expect(await other.socket.emitWithAck('delete', { id: sent.id })).toEqual(refusal(ActionError.NotFound));

  // Emoji: 33 bytes, blank, not a boolean `on`, and the 21st distinct one.
  expect(await socket.emitWithAck('react', { id: sent.id, emoji: 'x'.repeat(33), on: true })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('react', { id: sent.id, emoji: ' ', on: true })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('react', { id: sent.id, emoji: '__proto__', on: true })).toEqual(refusal(ActionError.Invalid));
  expect(await (socket.emitWithAck as (event: string, payload: unknown) => Promise<unknown>)('react', { id: sent.id, emoji: '👍', on: 'yes' })).toEqual(refusal(ActionError.Invalid));
  for (let i = 0; i < MAX_REACTIONS; i += 1) {
    expect(await socket.emitWithAck('react', { id: sent.id, emoji: `e${i}`, on: true })).toEqual({ ok: true, count: 1 });
  }
  expect(await socket.emitWithAck('react', { id: sent.id, emoji: 'one-too-many', on: true })).toEqual(refusal(ActionError.TooManyReactions));
  expect(await socket.emitWithAck('react', { id: sent.id, emoji: 'e0', on: true })).toEqual({ ok: true, count: 1 });

  // History pages: `before` not an id, limit 0 and 10000, a limit that is no integer.
  expect(await socket.emitWithAck('history', { before: 'yesterday' })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('history', { limit: 0 })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('history', { limit: 10_000 })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('history', { limit: 1.5 })).toEqual(refusal(ActionError.Invalid));
  expect(await socket.emitWithAck('read', { id: '1-1' })).toEqual(refusal(ActionError.NotFound));

  // The room heard only the twenty reactions, then the message is as it was.
  for (let i = 0; i < MAX_REACTIONS; i += 1) expect(await changes.reactions.next()).toMatchObject({ emoji: `e${i}`, count: 1 });
  expect(await changes.reactions.next()).toMatchObject({ emoji: 'e0', count: 1 });
  expect(changes.edits.pending.length + changes.deletes.pending.length + changes.reads.pending.length).toBe(0);
  const page = await socket.emitWithAck('history', {});
  if (!page.ok) throw new Error(page.error);
  expect(page.messages).toEqual([expect.objectContaining({ id: sent.id, text: 'the original' })]);
  expect((page.messages[0] as ChatMessage).version).toBeUndefined();
});

test('10000 reaction toggles in a second from one client: the flood budget answers rate_limited, others go on', async () => {
  const server = await startTestServer({ DATA_DIR: ':memory:', RATE_LIMIT: '20', RATE_BURST: '40' });
  const flooder = await connectSio(server.url, { auth: { name: 'flooder' } });
  const bystander = await connectSio(server.url, { auth: { name: 'bystander' }, localAddress: '127.0.0.2' });
  const target = await bystander.chat('a message to react to');
  if (!target.ok) throw new Error(target.error);
  const answers = await Promise.all(
    Array.from({ length: 10_000 }, (_, i) => flooder.socket.emitWithAck('react', { id: target.id, emoji: '👍', on: i % 2 === 0 })),
  );
  const limited = answers.filter((answer) => !answer.ok && answer.error === ActionError.RateLimited).length;
  const made = answers.filter((answer) => answer.ok).length;
  // The burst passes, the rest is refused: at most what the budget holds plus what it earned meanwhile.
  expect(made).toBeGreaterThanOrEqual(1);
  expect(made).toBeLessThan(500);
  expect(limited).toBe(10_000 - made);
  // Someone else is unaffected.
  expect(await bystander.chat('still here')).toEqual({ ok: true, id: expect.any(String) });
  expect(await bystander.socket.emitWithAck('react', { id: target.id, emoji: '🎉', on: true })).toEqual({ ok: true, count: 1 });
});

test('raw JSON: refusals are error frames with the ref, and the client stays', async () => {
  const server = await startTestServer({ DATA_DIR: ':memory:' });
  const raw = await connectRaw(server.url, { format: 'json' });
  expect(await rawRequest(raw, { type: 'edit', id: 'x', text: 'y' })).toEqual({ type: 'error', error: ActionError.Invalid, ref: expect.any(String) });
  expect(await rawRequest(raw, { type: 'history', before: 'x' })).toEqual({ type: 'error', error: ActionError.Invalid, ref: expect.any(String) });
  expect(await rawRequest(raw, { type: 'history', limit: 201 })).toEqual({ type: 'error', error: ActionError.Invalid, ref: expect.any(String) });
  expect(await rawRequest(raw, { type: 'react', id: '1-1', emoji: '👍', on: true })).toEqual({ type: 'error', error: ActionError.NotFound, ref: expect.any(String) });
  expect(await rawRequest(raw, { type: 'chat', text: '' })).toEqual({ type: 'error', error: ActionError.Empty, ref: expect.any(String) });
  expect(await rawRequest(raw, { type: 'chat', text: 5 })).toEqual({ type: 'error', error: ActionError.Invalid, ref: expect.any(String) });
  // The connection is still open and in the room.
  raw.send('plain text');
  for (;;) {
    const frame = await raw.nextJson();
    if (frame.type === 'chat') {
      expect(frame.text).toBe('plain text');
      break;
    }
  }
});

test('a page of older history counts against the address byte budget: the next one waits', async () => {
  const server = await startTestServer({ DATA_DIR: ':memory:', RATE_LIMIT_BYTES: '10000', RATE_BURST_BYTES: '20000' });
  // Written from two other addresses, each within its own budget.
  for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
    const writer = await connectSio(server.url, { auth: { name: 'writer' }, localAddress });
    for (let i = 0; i < 15; i += 1) expect(await writer.chat(`${i} ${'x'.repeat(990)}`)).toMatchObject({ ok: true });
  }
  const reader = await connectSio(server.url, { auth: { name: 'reader' } });
  expect(await reader.socket.emitWithAck('history', { limit: 30 })).toMatchObject({ ok: true, more: false });
  // About 30 KB went to this reader alone, more than its address's burst: the next page waits.
  expect(await reader.socket.emitWithAck('history', { limit: 1 })).toEqual({ ok: false, error: ActionError.RateLimited });
});
