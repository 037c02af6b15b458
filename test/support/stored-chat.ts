/**
 * What the store tests do again and again with real clients: send and wait until the
 * message is stored (Socket.IO ack, raw echo), read chat frames, stop a server cleanly.
 */
import { isDeleted, type ChatMessage, type HistoryMessage } from '../../server/protocol';
import { connectRaw, type RawTestClient } from './raw-client';
import type { SioTestClient } from './sio-client';
import type { SpawnedServer } from './spawn-server';

/** A raw client speaking JSON, in `room` (the lobby by default), resuming after `since` when given. */
export function rawJson(url: string, room?: string, since?: string): Promise<RawTestClient> {
  return connectRaw(url, since === undefined ? { format: 'json' } : { format: 'json', since }, {}, room === undefined ? {} : { room });
}

/** The next chat frame a JSON raw client receives (notices skipped). */
export async function nextChat(client: RawTestClient): Promise<ChatMessage> {
  for (;;) {
    const frame = await client.nextJson();
    if (frame.type === 'chat') return { id: frame.id, text: frame.text, name: frame.name, at: frame.at };
  }
}

/** Sends `text` from a raw JSON client; resolves with its id once its own echo comes back (stored). */
export async function rawSend(client: RawTestClient, text: string): Promise<string> {
  client.send(text);
  for (;;) {
    const message = await nextChat(client);
    if (message.text === text) return message.id;
  }
}

/** Sends `text` from a Socket.IO client; resolves with its id once acked ok. */
export async function sioSend(client: SioTestClient, text: string): Promise<string> {
  const ack = await client.chat(text);
  if (!ack.ok) throw new Error(`"${text}" was refused: ${ack.error}`);
  return ack.id;
}

/** SIGTERM, and the clean exit that follows. */
export async function stop(server: SpawnedServer): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
}

/** The texts of `messages`, oldest first; a tombstone shows as null. */
export const textsOf = (messages: readonly HistoryMessage[]) => messages.map((m) => (isDeleted(m) ? null : m.text));

/** The messages of a history that has no tombstone, as messages (a test fails on a tombstone). */
export function chatsOf(messages: readonly HistoryMessage[]): ChatMessage[] {
  return messages.map((m) => {
    if (isDeleted(m)) throw new Error(`unexpected tombstone ${m.id}`);
    return m;
  });
}
