import { button, element } from './dom.js';
import { QUICK_EMOJI } from './reactions.js';

/** What a message's menu offers; `edit` and `remove` only on the reader's own messages. */
export interface MenuChoices {
  reacted(emoji: string): boolean;
  react(emoji: string): void;
  edit?: (() => void) | undefined;
  remove?: (() => void) | undefined;
}

let open: MessageMenu | undefined;
let menus = 0;

/**
 * The small menu a message's `⋯` button opens (a disclosure: the button says whether it
 * is open, and Tab moves through it): the quick reactions, and Edit and Delete on one's
 * own messages. One is open at a time; Escape or a click elsewhere closes it.
 */
export class MessageMenu {
  readonly element: HTMLDivElement;

  constructor(
    private readonly toggle: HTMLButtonElement,
    choices: MenuChoices,
  ) {
    open?.close(false);
    open = this;
    this.element = element('div', 'message-menu');
    this.element.id = `message-menu-${(menus += 1)}`;
    this.element.setAttribute('role', 'group');
    this.element.setAttribute('aria-label', 'Message actions');
    const quick = element('div', 'quick-reactions');
    for (const emoji of QUICK_EMOJI) {
      const choice = button('quick', emoji, `React with ${emoji}`);
      choice.setAttribute('aria-pressed', String(choices.reacted(emoji)));
      choice.addEventListener('click', () => this.choose(() => choices.react(emoji)));
      quick.append(choice);
    }
    this.element.append(quick);
    const { edit, remove } = choices;
    if (edit !== undefined) this.item('Edit', edit);
    if (remove !== undefined) this.item('Delete', remove);
    this.element.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation();
      this.close(true);
    });
    toggle.setAttribute('aria-expanded', 'true');
    toggle.setAttribute('aria-controls', this.element.id);
  }

  /** Whether this menu is the one open now. */
  get isOpen(): boolean {
    return open === this;
  }

  /** Whether `node` is in this menu or is its button. */
  holds(node: Node): boolean {
    return this.element.contains(node) || this.toggle.contains(node);
  }

  /** Moves the focus into the menu, for whoever opened it from the keyboard. */
  focus(): void {
    this.element.querySelector('button')?.focus();
  }

  close(refocus: boolean): void {
    if (open === this) open = undefined;
    this.element.remove();
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.removeAttribute('aria-controls');
    if (refocus) this.toggle.focus();
  }

  private item(text: string, act: () => void): void {
    const item = button(`menu-item ${text.toLowerCase()}`, text);
    item.addEventListener('click', () => this.choose(act));
    this.element.append(item);
  }

  private choose(act: () => void): void {
    this.close(true);
    act();
  }
}

/** Closes the open menu on a click outside it and its button, and on Escape anywhere. */
export function closeMenusFromOutside(): void {
  document.addEventListener('click', (event) => {
    if (open === undefined || !(event.target instanceof Node)) return;
    if (!open.holds(event.target)) open.close(false);
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') open?.close(false);
  });
}
