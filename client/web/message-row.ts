import { isDeleted, type ChatMessage, type HistoryMessage, type MessageEdit } from '../../server/protocol.js';
import { button, element, timeElement } from './dom.js';
import { MessageEditor } from './message-editor.js';
import { MessageMenu } from './message-menu.js';
import { reactionChips } from './reactions.js';

/** What a row may do about its message, through the session; undefined where the connection cannot (raw text mode). */
export interface MessageActions {
  /** Whether this session may edit and delete it. */
  own(message: ChatMessage): boolean;
  /** Whether this session's reaction with `emoji` is on. */
  reacted(id: string, emoji: string): boolean;
  /** Turns this session's reaction with `emoji` on, or off if it is on. */
  react(id: string, emoji: string): void;
  /** Resolves with whether the server took the edit (never rejects). */
  edit(id: string, text: string): Promise<boolean>;
  remove(id: string): void;
}

const TOMBSTONE_TEXT = 'message deleted';

/**
 * One message on the page, kept current: its text and "(edited)" as edits come, a
 * tombstone once deleted, its reaction chips, who has read up to it, and its `⋯` menu.
 * Each part is redrawn on its own, so an open menu or an edit in progress survives a
 * reaction or a read marker arriving.
 */
export class MessageRow {
  readonly element: HTMLLIElement;
  readonly id: string;
  private message: ChatMessage | undefined;
  private readonly reactions = new Map<string, number>();
  private seenBy: readonly string[] = [];
  private edited: HTMLElement | undefined;
  private text: HTMLElement | undefined;
  private toggle: HTMLButtonElement | undefined;
  private chips: HTMLElement | null = null;
  private seenLine: HTMLElement | undefined;
  private menu: MessageMenu | undefined;
  private editor: MessageEditor | undefined;

  constructor(
    message: HistoryMessage,
    mine: boolean,
    private readonly actions: MessageActions | undefined,
  ) {
    this.id = message.id;
    this.element = element('li', mine ? 'chat mine' : 'chat');
    this.element.dataset['id'] = message.id;
    if (isDeleted(message)) {
      this.drawTombstone(message.at);
      return;
    }
    this.message = { ...message };
    this.takeReactions(message);
    this.drawMessage(this.message);
  }

  get deleted(): boolean {
    return this.message === undefined;
  }

  /** The same message again (a history page, a reconnection's history): whatever changed since. */
  update(message: HistoryMessage): void {
    if (this.message === undefined) return;
    if (isDeleted(message)) {
      this.delete();
      return;
    }
    const { version, editedAt } = message;
    if (version !== undefined && editedAt !== undefined) this.edit({ id: message.id, text: message.text, version, editedAt });
    this.takeReactions(message);
    this.drawChips();
  }

  /** An edit, unless this row has a later version already (the same one again may bring the server's editedAt). */
  edit(edit: MessageEdit): void {
    const message = this.message;
    if (message === undefined || (message.version ?? 0) > edit.version) return;
    message.text = edit.text;
    message.version = edit.version;
    message.editedAt = edit.editedAt;
    if (this.text !== undefined) this.text.textContent = edit.text;
    this.drawEdited(edit.editedAt);
  }

  delete(): void {
    if (this.message === undefined) return;
    const { at } = this.message;
    this.message = undefined;
    this.menu?.close(false);
    this.menu = undefined;
    this.editor = undefined;
    this.reactions.clear();
    this.drawTombstone(at);
  }

  react(emoji: string, count: number): void {
    if (this.message === undefined) return;
    if (count > 0) this.reactions.set(emoji, count);
    else this.reactions.delete(emoji);
    this.drawChips();
  }

  /** Redraws the chips: which of them this session has pressed may have changed. */
  drawChips(): void {
    if (this.message === undefined) return;
    const { id } = this;
    const actions = this.actions;
    const next = reactionChips(
      this.reactions,
      (emoji) => actions?.reacted(id, emoji) ?? false,
      actions === undefined ? undefined : (emoji) => actions.react(id, emoji),
    );
    if (this.chips === null) (this.editor?.element ?? this.text)?.after(...(next === null ? [] : [next]));
    else if (next === null) this.chips.remove();
    else this.chips.replaceWith(next);
    this.chips = next;
  }

  /** "seen by Ann, Bob": the readers whose newest read marker is this message. */
  showSeenBy(names: readonly string[]): void {
    this.seenBy = names;
    this.drawSeenBy();
  }

  private takeReactions(message: ChatMessage): void {
    this.reactions.clear();
    for (const [emoji, count] of Object.entries(message.reactions ?? {})) if (count > 0) this.reactions.set(emoji, count);
  }

  private drawMessage(message: ChatMessage): void {
    const meta = element('div', 'meta');
    meta.append(element('span', 'name', message.name), ' ', timeElement(message.at));
    this.text = element('div', 'text', message.text);
    this.element.append(meta, this.text);
    if (message.editedAt !== undefined) this.drawEdited(message.editedAt);
    if (this.actions !== undefined) {
      this.toggle = button('row-actions', '⋯', 'Message actions');
      this.toggle.setAttribute('aria-expanded', 'false');
      this.toggle.addEventListener('click', () => this.toggleMenu());
      meta.append(' ', this.toggle);
    }
    this.drawChips();
  }

  private drawEdited(editedAt: number): void {
    if (this.edited === undefined) {
      this.edited = element('span', 'edited', '(edited)');
      this.element.querySelector('.meta time')?.after(' ', this.edited);
    }
    this.edited.title = `edited ${new Date(editedAt).toLocaleString()}`;
  }

  private drawTombstone(at: number): void {
    this.element.classList.add('deleted');
    this.edited = this.text = this.toggle = undefined;
    this.chips = null;
    const line = element('div', 'tombstone', TOMBSTONE_TEXT);
    line.append(' · ', timeElement(at));
    this.element.replaceChildren(line);
    this.seenLine = undefined;
    this.drawSeenBy();
  }

  private drawSeenBy(): void {
    if (this.seenBy.length === 0) {
      this.seenLine?.remove();
      this.seenLine = undefined;
      return;
    }
    if (this.seenLine === undefined) {
      this.seenLine = element('p', 'seen-by');
      this.element.append(this.seenLine);
    }
    this.seenLine.textContent = `seen by ${this.seenBy.join(', ')}`;
  }

  private toggleMenu(): void {
    const { actions, message, toggle } = this;
    if (actions === undefined || message === undefined || toggle === undefined) return;
    if (this.menu?.isOpen === true) {
      this.menu.close(false);
      return;
    }
    const own = this.editor === undefined && actions.own(message);
    this.menu = new MessageMenu(toggle, {
      reacted: (emoji) => actions.reacted(this.id, emoji),
      react: (emoji) => actions.react(this.id, emoji),
      edit: own ? () => this.startEditing() : undefined,
      remove: own ? () => actions.remove(this.id) : undefined,
    });
    (this.chips ?? this.editor?.element ?? this.text)?.after(this.menu.element);
    this.menu.focus();
  }

  private startEditing(): void {
    const { actions, message, text } = this;
    if (actions === undefined || message === undefined || text === undefined || this.editor !== undefined) return;
    const editor = new MessageEditor(
      message.text,
      (next) => actions.edit(this.id, next),
      () => {
        if (this.editor !== editor) return;
        this.editor = undefined;
        editor.element.remove();
        text.hidden = false;
        this.toggle?.focus();
      },
    );
    this.editor = editor;
    text.hidden = true;
    text.after(editor.element);
    editor.focus();
  }
}
