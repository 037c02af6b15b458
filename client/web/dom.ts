import { clockTime } from '../shared/format.js';

/** The page's element of this id; a page without it is a broken page. */
export function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

/** A new element with a class and text. Text goes in as text, never as HTML. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ''): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** A button that does not submit a form. */
export function button(className: string, text: string, label?: string): HTMLButtonElement {
  const node = element('button', className, text);
  node.type = 'button';
  if (label !== undefined) node.setAttribute('aria-label', label);
  return node;
}

/** `HH:MM:SS`, with the full date and time machine-readable in `datetime`. */
export function timeElement(at: number): HTMLTimeElement {
  const time = element('time', 'time', clockTime(at));
  time.dateTime = new Date(at).toISOString();
  return time;
}
