/**
 * Makes `parent`'s children one element per item, in the items' order. An item shown
 * before keeps its element (found by key), only updated: a poll every two seconds must
 * not take the focus from a button or close what the reader opened.
 */
export function syncChildren<T, E extends HTMLElement>(
  parent: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  make: (item: T) => E,
  update: (element: E, item: T) => void,
): void {
  const shown = new Map<string, E>();
  for (const child of Array.from(parent.children)) {
    const childKey = (child as HTMLElement).dataset['key'];
    if (childKey !== undefined) shown.set(childKey, child as E);
    else child.remove();
  }
  items.forEach((item, index) => {
    const itemKey = key(item);
    let element = shown.get(itemKey);
    if (element === undefined) {
      element = make(item);
      element.dataset['key'] = itemKey;
    } else {
      shown.delete(itemKey);
    }
    update(element, item);
    // Moved only when out of place: moving an element takes the focus from inside it.
    const here = parent.children[index] ?? null;
    if (here !== element) parent.insertBefore(element, here);
  });
  for (const gone of shown.values()) gone.remove();

}

/** Sets a node's text only when it changed, so that screen readers hear only news. */
export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
