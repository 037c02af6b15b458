/**
 * The terminal's view of one room's messages: it prints them, the edits, deletes and
 * reactions that come for them, and runs the commands that act on them (/edit, /delete,
 * /react, /older, /read, /unread, /ids). One per session: another room starts afresh.
 */
import {
  isDeleted,
  type ChatMessage,
  type HistoryMessage,
  type MessageDelete,
  type MessageEdit,
  type Reaction,
  type Refused,
} from '../server/protocol';
import type { ChatSession } from './shared/session';
import { ShownMessages, isIdWord } from './shown-messages';
import { describeRefusal, type TerminalFormat } from './terminal-format';

/** What /help says of these commands. */
export const MESSAGE_HELP = [
  '/edit [ID] TEXT changes your message (default: the last one you sent)',
  '/delete [ID] deletes your message (default: the last one you sent)',
  '/react [ID] EMOJI adds your reaction, or takes it back if you had added it (default: the newest message shown)',
  '/older [ID] shows the messages before the oldest one shown, or before ID',
  '/read [ID] marks the room read up to ID (default: the newest message shown); /unread counts what is unread',
  '/ids shows or hides message ids (#1700000000000-0); an ID is one, or # and its last digits (#00-0)',
];

export const MESSAGE_VERBS = new Set(['/edit', '/delete', '/react', '/older', '/read', '/unread', '/ids']);

/** Messages one /older shows. */
export const OLDER_PAGE = 20;

/** `2 older messages`. */
const olderMessages = (count: number) => `${count} older message${count === 1 ? '' : 's'}`;

export interface MessageViewOptions {
  session: ChatSession;
  format: TerminalFormat;
  print(line: string): void;
  /** Whether this view's session is still the terminal's: answers that come later are dropped. */
  current(): boolean;
  /** Raw text (seed) mode: no ids, no requests. */
  textMode: boolean;
}

export class MessageView {
  readonly shown = new ShownMessages();

  constructor(private readonly options: MessageViewOptions) {}

  chat(message: ChatMessage): void {
    this.shown.shown(message);
    this.options.print(this.options.format.chat(message, this.own(message.name)));
  }

  /** History, or a page of older messages: messages and tombstones, oldest first. */
  history(messages: readonly HistoryMessage[]): void {
    for (const message of messages) {
      if (isDeleted(message)) {
        const known = this.shown.get(message.id);
        this.shown.shown(message);
        this.options.print(this.options.format.deleted(message.id, known, message.at));
      } else {
        this.chat(message);
      }
    }
  }

  edited(edit: MessageEdit): void {
    const known = this.shown.edited(edit);
    const { format } = this.options;
    if (known === undefined) {
      this.options.print(format.editedUnknown(edit.id, edit.text, edit.editedAt));
      return;
    }
    const message: ChatMessage = { id: edit.id, name: known.name, text: edit.text, at: known.at, version: edit.version };
    this.options.print(format.chat(message, this.own(known.name), edit.editedAt));
  }

  deleted(deleted: MessageDelete): void {
    this.options.print(this.options.format.deleted(deleted.id, this.shown.deleted(deleted.id)));
  }

  reaction(reaction: Reaction): void {
    this.options.print(this.options.format.reaction(reaction, this.shown.get(reaction.id)));
  }

  /** The server took a message this terminal sent: `/edit` and `/delete` default to it now. */
  sent(id: string | undefined): void {
    if (id !== undefined) this.shown.sent(id);
  }

  /** Runs `/verb argument` (one of MESSAGE_VERBS). */
  run(verb: string, argument: string): void {
    if (this.options.textMode) {
      this.problem('not available in raw text mode (--raw without --json): it has no message ids');
      return;
    }
    switch (verb) {
      case '/edit':
        return this.edit(argument);
      case '/delete':
        return this.delete(argument);
      case '/react':
        return this.react(argument);
      case '/older':
        return this.older(argument);
      case '/read':
        return this.read(argument);
      case '/unread':
        return this.unread();
      case '/ids':
        this.options.format.ids = !this.options.format.ids;
        this.status(this.options.format.ids ? 'message ids shown after each message' : 'message ids hidden');
        return;
      default:
        this.problem(`not a message command: ${verb}`);
    }
  }

  private edit(argument: string): void {
    const target = this.target(argument, this.shown.lastOwn, 'nothing of yours to edit here yet; /edit ID TEXT names a message');
    if (target === undefined) return;
    if (target.rest === '') {
      this.problem('/edit [ID] TEXT: the new text is missing');
      return;
    }
    this.answer('not edited', this.options.session.edit(target.id, target.rest), () => {});
  }

  private delete(argument: string): void {
    const target = this.target(argument, this.shown.lastOwn, 'nothing of yours to delete here yet; /delete ID names a message');
    if (target === undefined) return;
    if (target.rest !== '') {
      this.problem(`/delete [ID]: not an id: ${target.rest}`);
      return;
    }
    this.answer('not deleted', this.options.session.deleteMessage(target.id), () => {});
  }

  /** Toggles: on unless this session has reacted with the emoji already (as far as it knows). */
  private react(argument: string): void {
    const target = this.target(argument, this.shown.newest, 'no message shown to react to; /react ID EMOJI names one');
    if (target === undefined) return;
    const emoji = target.rest;
    if (emoji === '' || /\s/.test(emoji)) {
      this.problem('/react [ID] EMOJI: one emoji (or word) after the id');
      return;
    }
    const on = !this.shown.reacted(target.id, emoji);
    this.answer('no reaction', this.options.session.react(target.id, emoji, on), () => this.shown.setReacted(target.id, emoji, on));
  }

  private older(argument: string): void {
    let before = this.shown.oldest;
    if (argument !== '') {
      const named = this.idOf(argument);
      if (named === undefined) return;
      before = named;
    }
    this.answer('no older messages', this.options.session.older(before, OLDER_PAGE), (page) => {
      if (page.messages.length === 0) {
        this.status(before === undefined ? 'no messages in this room' : 'no older messages');
        return;
      }
      this.history(page.messages);
      const shown = olderMessages(page.messages.length);
      this.status(page.more ? `${shown}; /older for more` : `${shown}: the oldest there are`);
    });
  }

  private read(argument: string): void {
    const id = argument === '' ? this.shown.newest : this.idOf(argument);
    if (id === undefined) {
      if (argument === '') this.problem('no message shown to mark read; /read ID names one');
      return;
    }
    this.answer('not marked read', this.options.session.markRead(id), () => this.status(`marked read up to #${id}`));
  }

  private unread(): void {
    this.answer('no unread counts', this.options.session.unread(), ({ rooms }) => {
      if (rooms.length === 0) this.status('no rooms with a read marker yet (/read sets one)');
      for (const room of rooms) this.status(`${room.name}: ${room.unread} unread`);
    });
  }

  /**
   * The message a command names (its first word, if that is an id) or `fallback`, and the
   * rest of the argument; undefined once it has said why there is none.
   */
  private target(argument: string, fallback: string | undefined, none: string): { id: string; rest: string } | undefined {
    const first = argument.split(/\s+/, 1)[0] ?? '';
    if (isIdWord(first)) {
      const id = this.idOf(first);
      return id === undefined ? undefined : { id, rest: argument.slice(first.length).trim() };
    }
    if (fallback === undefined) {
      this.problem(none);
      return undefined;
    }
    return { id: fallback, rest: argument };
  }

  /** The id `word` names, or undefined once it has said why it names none. */
  private idOf(word: string): string | undefined {
    const resolved = this.shown.resolve(word);
    if ('id' in resolved) return resolved.id;
    this.problem(resolved.problem);
    return undefined;
  }

  /** Waits for the server's answer: `done` with it, or `failed: why` for a refusal or no answer. */
  private answer<T extends { ok: true }>(failed: string, request: Promise<T | Refused>, done: (answer: T) => void): void {
    request.then(
      (answer) => {
        if (!this.options.current()) return;
        if (answer.ok) done(answer as T);
        else this.problem(`${failed}: ${describeRefusal(answer.error)}`);
      },
      (err: unknown) => {
        if (this.options.current()) this.problem(`${failed}: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  private own(name: string): boolean {
    return name === this.options.session.name;
  }

  private status(text: string): void {
    this.options.print(this.options.format.status(text));
  }

  private problem(text: string): void {
    this.options.print(this.options.format.problem(text));
  }
}
