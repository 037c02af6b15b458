import { button, element } from './dom.js';

/** The emoji a message's menu offers at one click. Others arrive from other clients and show as chips too. */
export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮'] as const;

/**
 * Which reactions this session turned on. The server counts reactions but does not say
 * whose they are, so a chip can only show as pressed what this session did itself.
 */
export class ReactionChoices {
  private readonly on = new Set<string>();

  has(id: string, emoji: string): boolean {
    return this.on.has(key(id, emoji));
  }

  set(id: string, emoji: string, on: boolean): void {
    if (on) this.on.add(key(id, emoji));
    else this.on.delete(key(id, emoji));
  }

  clear(): void {
    this.on.clear();
  }
}

const key = (id: string, emoji: string) => `${id}\n${emoji}`;

/**
 * The chips under a message, `👍 2`, in the order the emoji first appeared; a chip
 * toggles this session's reaction. Nothing is drawn when there are none.
 */
export function reactionChips(
  counts: ReadonlyMap<string, number>,
  pressed: (emoji: string) => boolean,
  toggle: ((emoji: string) => void) | undefined,
): HTMLElement | null {
  if (counts.size === 0) return null;
  const group = element('div', 'reactions');
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', 'Reactions');
  for (const [emoji, count] of counts) {
    const chip = button('chip', `${emoji} ${count}`, `${emoji} ${count}${count === 1 ? ' reaction' : ' reactions'}`);
    chip.dataset['emoji'] = emoji;
    chip.setAttribute('aria-pressed', String(pressed(emoji)));
    // Where the transport has no reactions (raw text mode), chips only show what is there.
    if (toggle === undefined) chip.disabled = true;
    else chip.addEventListener('click', () => toggle(emoji));
    group.append(chip);
  }
  return group;
}
