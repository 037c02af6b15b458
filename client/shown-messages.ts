import { isDeleted, type HistoryMessage, type MessageEdit } from '../server/protocol';

/** What the terminal remembers of a message it has shown. */
export interface ShownMessage {
  id: string;
  name: string;
  text: string;
  at: number;
  deleted: boolean;
}

/** How many shown messages the terminal remembers (for names and excerpts in later lines). */
const KEEP = 1_000;
/** How many of its own message ids it remembers (what `/edit` and `/delete` fall back on). */
const KEEP_OWN = 100;

/** A message id as the server makes them: `<epoch ms>-<sequence>`. */
const FULL_ID = /^\d+-\d+$/;
/**
 * A `#` word that matches no message shown is taken for a whole id when it has this many
 * digits before its dash (an epoch-ms time since September 2001).
 */
const MIN_FULL_ID_DIGITS = 13;

/** Orders two server message ids (`<ms>-<seq>`) by time, then sequence. */
export function compareIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** Whether a command's word names a message: a full id, or `#` and the end of one. */
export function isIdWord(word: string): boolean {
  return FULL_ID.test(word) || /^#[\d-]+$/.test(word);
}

/**
 * The messages one terminal session has shown in its room, and what it did to them: its
 * own (by the ids the server acked), its reactions. The defaults of the message commands
 * come from here, and so do the names and excerpts of the lines about edits, deletes and
 * reactions.
 */
export class ShownMessages {
  private readonly byId = new Map<string, ShownMessage>();
  private readonly own: string[] = [];
  /** Message id -> the emoji this session has reacted with, as the server confirmed. */
  private readonly reactions = new Map<string, Set<string>>();
  private oldestId: string | undefined;
  private newestId: string | undefined;

  shown(message: HistoryMessage): void {
    const known = this.byId.get(message.id);
    const entry: ShownMessage = isDeleted(message)
      ? { id: message.id, name: known?.name ?? '', text: known?.text ?? '', at: message.at, deleted: true }
      : { id: message.id, name: message.name, text: message.text, at: message.at, deleted: false };
    this.byId.delete(message.id);
    this.byId.set(message.id, entry);
    if (this.byId.size > KEEP) {
      const first = this.byId.keys().next();
      if (first.done !== true) this.byId.delete(first.value);
    }
    if (this.oldestId === undefined || compareIds(message.id, this.oldestId) < 0) this.oldestId = message.id;
    if (entry.deleted) this.forget(message.id);
    else if (this.newestId === undefined || compareIds(message.id, this.newestId) > 0) this.newestId = message.id;
  }

  /** The server took a message of this session's: its id. */
  sent(id: string): void {
    this.own.push(id);
    if (this.own.length > KEEP_OWN) this.own.shift();
  }

  edited(edit: MessageEdit): ShownMessage | undefined {
    const known = this.byId.get(edit.id);
    if (known !== undefined) known.text = edit.text;
    return known;
  }

  /** Marks message `id` deleted; answers what was shown of it (before the deletion). */
  deleted(id: string): ShownMessage | undefined {
    const known = this.byId.get(id);
    const before = known === undefined ? undefined : { ...known };
    if (known !== undefined) known.deleted = true;
    this.forget(id);
    return before;
  }

  get(id: string): ShownMessage | undefined {
    return this.byId.get(id);
  }

  /** The newest message of this session's that is not deleted. */
  get lastOwn(): string | undefined {
    return this.own.at(-1);
  }

  /** The newest message shown that is not deleted. */
  get newest(): string | undefined {
    return this.newestId;
  }

  /** The oldest message shown, deleted or not: where `/older` goes on from. */
  get oldest(): string | undefined {
    return this.oldestId;
  }

  /**
   * The id a command's word names: a full id as it is; `#` and the end of an id, the one
   * shown message whose id ends so (or, when none does, a full id after the `#`).
   * Otherwise why not, in a sentence.
   */
  resolve(word: string): { id: string } | { problem: string } {
    if (!word.startsWith('#')) return FULL_ID.test(word) ? { id: word } : { problem: `not a message id: ${word}` };
    const end = word.slice(1);
    if (end === '') return { problem: 'a # needs the end of a message id after it (/ids shows them)' };
    if (this.byId.has(end)) return { id: end };
    const matches = [...this.byId.keys()].filter((id) => id.endsWith(end));
    if (matches.length === 1 && matches[0] !== undefined) return { id: matches[0] };
    if (matches.length > 1) return { problem: `${matches.length} messages shown have ids ending in ${end}: give more of the id` };
    if (FULL_ID.test(end) && (end.split('-')[0] ?? '').length >= MIN_FULL_ID_DIGITS) return { id: end };
    return { problem: `no message shown here has an id ending in ${end} (/ids shows them)` };
  }

  /** Whether this session has reacted to message `id` with `emoji` (as far as it knows). */
  reacted(id: string, emoji: string): boolean {
    return this.reactions.get(id)?.has(emoji) ?? false;
  }

  /** The server confirmed this session's reaction `emoji` to `id`, added (`on`) or taken back. */
  setReacted(id: string, emoji: string, on: boolean): void {
    let emojis = this.reactions.get(id);
    if (on) {
      if (emojis === undefined) this.reactions.set(id, (emojis = new Set()));
      emojis.add(emoji);
      if (this.reactions.size > KEEP) {
        const first = this.reactions.keys().next();
        if (first.done !== true) this.reactions.delete(first.value);
      }
    } else if (emojis !== undefined) {
      emojis.delete(emoji);
      if (emojis.size === 0) this.reactions.delete(id);
    }
  }

  /** A deleted message is no default any more, for anything. */
  private forget(id: string): void {
    const index = this.own.indexOf(id);
    if (index !== -1) this.own.splice(index, 1);
    this.reactions.delete(id);
    if (id !== this.newestId) return;
    this.newestId = undefined;
    for (const entry of this.byId.values()) {
      if (!entry.deleted && (this.newestId === undefined || compareIds(entry.id, this.newestId) > 0)) this.newestId = entry.id;
    }
  }
}
