/**
 * The terminal's view of one room's messages and members: it prints the messages, the
 * edits, deletes and reactions that come for them, and runs the commands that act on them
 * (/edit, /delete, /react, /older, /read, /unread, /ids) and on members (/kick, /ban,
 * /mute). One per session: another room starts afresh.
 */
import {
  isDeleted,
  type ActionErrorCode,
  type Ban,
  type BanRequest,
  type ChatMessage,
  type HistoryMessage,
  type MessageDelete,
  type MessageEdit,
  type Notice,
  type Presence,
  type PresenceMember,
  type Reaction,
} from '../server/protocol';
import { clockTime } from './shared/format';
import { EMPTY_PRESENCE, applyNotice, presenceFrom, type RoomPresence } from './shared/presence';
import type { ChatSession } from './shared/session';
import { ShownMessages, isIdWord } from './shown-messages';
import { describeModerationRefusal, describeRefusal, visible, type TerminalFormat } from './terminal-format';

/** What /help says of these commands. */
export const MESSAGE_HELP = [
  '/edit [ID] TEXT changes your message (default: the last one you sent)',
  '/delete [ID] deletes your message (default: the last one you sent)',
  '/react [ID] EMOJI adds your reaction, or takes it back if you had added it (default: the newest message shown)',
  '/older [ID] shows the messages before the oldest one shown, or before ID',
  '/read [ID] marks the room read up to ID (default: the newest message shown); /unread counts what is unread',
  '/ids shows or hides message ids (#1700000000000-0); an ID is one, or # and its last digits (#00-0)',
];

/** What /help says of the moderators' commands. */
export const MODERATION_HELP = [
  'for moderators (a token with role moderator for this room, or admin):',
  '/kick NAME [REASON] ends the connections of NAME to this room; they may come back',
  '/ban NAME [MINUTES] [REASON] keeps NAME out of this room, for MINUTES or for good',
  '/mute NAME [MINUTES] [REASON] lets NAME read this room but not post, for MINUTES or for good',
  'NAME: a name shown in this room (its user is the one acted on), or a user id (a token\'s sub)',
];

export const MESSAGE_VERBS = new Set(['/edit', '/delete', '/react', '/older', '/read', '/unread', '/ids', '/kick', '/ban', '/mute']);

/** Messages one /older shows. */
export const OLDER_PAGE = 20;

/** `2 older messages`. */
const olderMessages = (count: number) => `${count} older message${count === 1 ? '' : 's'}`;
/** `1 connection`, `2 connections`. */
const connections = (count: number) => `${count} connection${count === 1 ? '' : 's'}`;

/** Whom a moderation command acts on: the user, how to show them, and the words after their name. */
export interface NamedMember {
  user: string;
  shown: string;
  rest: string[];
}

/** `Ann (ann-1)`, or the name alone when it is the user. */
function shownMember(member: PresenceMember): string {
  return member.user === undefined || member.user === member.name ? member.name : `${member.name} (${member.user})`;
}

/**
 * The member that the first words of a command name: the longest run of words that is a
 * member's user, or a member's name (exactly, else ignoring case), so that names with
 * spaces work. Nobody listed by those words: the first word is taken for a user id, as
 * the server knows users that are not here (gone, or on a list cut short). Two members
 * of the same name: why none was picked.
 */
export function memberNamed(members: readonly PresenceMember[], words: readonly string[]): NamedMember | { problem: string } {
  for (let count = words.length; count >= 1; count -= 1) {
    const phrase = words.slice(0, count).join(' ');
    const rest = words.slice(count);
    const byUser = members.find((member) => member.user === phrase);
    if (byUser !== undefined) return { user: phrase, shown: shownMember(byUser), rest };
    let named = members.filter((member) => member.name === phrase);
    if (named.length === 0) named = members.filter((member) => member.name.toLowerCase() === phrase.toLowerCase());
    const [only] = named;
    if (named.length === 1 && only !== undefined) return { user: only.user ?? only.name, shown: shownMember(only), rest };
    if (named.length > 1) {
      const users = named.map((member) => member.user ?? member.name).join(', ');
      return { problem: `${named.length} members here are called ${phrase}: name one by user id (${users})` };
    }
  }
  const [first = '', ...rest] = words;
  return { user: first, shown: first, rest };
}

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
  /** Who is in the room (Socket.IO only: the raw endpoint sends no member list). */
  private members: RoomPresence = EMPTY_PRESENCE;

  constructor(private readonly options: MessageViewOptions) {}

  /** The room's member list, on each (re)connection. */
  presence(presence: Presence): void {
    this.members = presenceFrom(presence);
  }

  /** A join or a leave keeps the member list current; `own`: this client's own join. */
  notice(notice: Notice, own: boolean): void {
    this.members = applyNotice(this.members, notice, own);
  }

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
    // Before the text mode's check: over the raw endpoint the session says why not, whatever the format.
    if (verb === '/kick') return this.kick(argument);
    if (verb === '/ban') return this.ban('ban', argument);
    if (verb === '/mute') return this.ban('mute', argument);
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

  private kick(argument: string): void {
    const target = this.member(argument, '/kick NAME [REASON]');
    if (target === undefined) return;
    const reason = target.rest.join(' ');
    const { session } = this.options;
    this.answer(
      'not kicked',
      session.kick(target.user, reason === '' ? undefined : reason),
      (ack) => {
        const who = visible(target.shown);
        if (ack.connections === 0) this.status(`${who} has no connection to room ${session.room}: nobody kicked`);
        else this.status(`kicked ${who} from room ${session.room}: ${connections(ack.connections)} ended`);
      },
      describeModerationRefusal,
    );
  }

  /** `/ban` and `/mute`: NAME, then minutes if the next word is a whole number, then the reason. */
  private ban(kind: 'ban' | 'mute', argument: string): void {
    const usage = `/${kind} NAME [MINUTES] [REASON]`;
    const target = this.member(argument, usage);
    if (target === undefined) return;
    let words = target.rest;
    const request: BanRequest = { user: target.user };
    const minutes = words[0];
    if (minutes !== undefined && /^\d+$/.test(minutes)) {
      const until = Date.now() + Number(minutes) * 60_000;
      if (Number(minutes) < 1 || !Number.isSafeInteger(until)) {
        this.problem(`${usage}: MINUTES is a whole number from 1 (left out: for good)`);
        return;
      }
      request.until = until;
      words = words.slice(1);
    }
    if (words.length > 0) request.reason = words.join(' ');
    const { session } = this.options;
    const asked = kind === 'ban' ? session.ban(request) : session.mute(request);
    this.answer(kind === 'ban' ? 'not banned' : 'not muted', asked, ({ ban }) => this.status(describeBan(ban, target.shown)), describeModerationRefusal);
  }

  /** The member a moderation command names, or undefined once it has said why there is none. */
  private member(argument: string, usage: string): NamedMember | undefined {
    const words = argument.split(/\s+/).filter((word) => word !== '');
    if (words.length === 0) {
      this.problem(`${usage}: whom? A name shown in this room, or a user id`);
      return undefined;
    }
    const named = memberNamed(this.members.members, words);
    if ('problem' in named) {
      this.problem(visible(named.problem));
      return undefined;
    }
    return named;
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

  /**
   * Waits for the server's answer: `done` with it, or `failed: why` for a refusal (in the
   * words of `refusal`) or no answer.
   */
  private answer<T extends { ok: true }, E extends string = ActionErrorCode>(
    failed: string,
    request: Promise<T | { ok: false; error: E }>,
    done: (answer: T) => void,
    refusal: (code: E) => string = describeRefusal as (code: E) => string,
  ): void {
    request.then(
      (answer) => {
        if (!this.options.current()) return;
        if (answer.ok) done(answer as T);
        else this.problem(`${failed}: ${refusal(answer.error)}`);
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

/** `banned Ann (ann) from room lobby for 10 minutes, until 12:10:00: spam`, from the ban the server made. */
export function describeBan(ban: Ban, shown: string): string {
  const verb = ban.kind === 'ban' ? 'banned' : 'muted';
  const where = ban.room === null ? 'every room' : `room ${ban.room}`;
  const minutes = ban.until === null ? 0 : Math.round((ban.until - ban.at) / 60_000);
  const until = ban.until === null ? 'for good' : `for ${minutes} minute${minutes === 1 ? '' : 's'}, until ${clockTime(ban.until)}`;
  const reason = ban.reason === '' ? '' : `: ${ban.reason}`;
  return visible(`${verb} ${shown} ${ban.kind === 'ban' ? 'from' : 'in'} ${where} ${until}${reason}`);
}
