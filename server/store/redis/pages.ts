/**
 * Reading a room's messages out of Redis: entries as PAGE_SCRIPT answers them, each with
 * what it became (edits, reactions, deletion), and pages of them bounded in count and bytes.
 */
import type { ChatMessage, HistoryMessage } from '../../protocol';
import { jsonBytes } from '../../support/json-bytes';

/** Flat, four items per entry: id, fields, state after its last edit (JSON), reaction counts (JSON). */
export type PageReply = (string | string[] | null)[];

interface EditedState {
  text?: string;
  version?: number;
  editedAt?: number;
  deleted?: boolean;
}

/** One stream entry, its last edit and its reactions, as a message (or a tombstone). */
function messageOf(id: string, list: string[], state: string | null, counts: string | null): HistoryMessage {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[list[i] as string] = list[i + 1] as string;
  const at = Number(fields.at);
  const edited = state === null ? null : (JSON.parse(state) as EditedState);
  if (fields.deleted !== undefined || edited?.deleted === true) return { id, at, deleted: true };
  const message: ChatMessage = { id, text: edited?.text ?? fields.text ?? '', name: fields.name ?? '', at };
  if (fields.user !== undefined) message.user = fields.user;
  if (edited !== null) {
    message.version = Number(edited.version);
    message.editedAt = Number(edited.editedAt);
  }
  if (counts !== null) message.reactions = JSON.parse(counts) as Record<string, number>;
  return message;
}

/** The messages of a PAGE_SCRIPT answer, in the order it read them. */
export function messagesOf(reply: PageReply): HistoryMessage[] {
  const messages: HistoryMessage[] = [];
  for (let i = 0; i + 3 < reply.length; i += 4) {
    messages.push(messageOf(String(reply[i]), reply[i + 1] as string[], reply[i + 2] as string | null, reply[i + 3] as string | null));
  }
  return messages;
}

/** The first chunk a page reads from a stream; each next one is twice as large, up to MAX_CHUNK. */
const FIRST_CHUNK = 16;
const MAX_CHUNK = 256;

/**
 * Up to `limit` messages read from `from` onwards (an exclusive `(id` after the first
 * chunk), in chunks, no further than the first that would pass `maxBytes` as JSON (at
 * least one is taken): a page of large messages loads at most one chunk more than it
 * returns. `more`: whether any was left.
 */
export async function readPage(
  read: (from: string, count: number) => Promise<HistoryMessage[]>,
  from: string,
  limit: number,
  maxBytes: number,
): Promise<{ messages: HistoryMessage[]; more: boolean }> {
  const messages: HistoryMessage[] = [];
  let bytes = 0;
  let cursor = from;
  for (let chunk = FIRST_CHUNK; ; chunk = Math.min(chunk * 2, MAX_CHUNK)) {
    const want = Math.min(chunk, limit + 1 - messages.length);
    const chunkRead = await read(cursor, want);
    for (const message of chunkRead) {
      if (maxBytes !== Number.POSITIVE_INFINITY) bytes += jsonBytes(message);
      if (messages.length === limit || (messages.length > 0 && bytes > maxBytes)) return { messages, more: true };
      messages.push(message);
    }
    const last = chunkRead.at(-1);
    if (chunkRead.length < want || last === undefined) return { messages, more: false };
    cursor = `(${last.id}`;
  }
}
