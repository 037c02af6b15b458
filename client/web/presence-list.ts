import type { PresenceMember } from '../../server/protocol.js';

/**
 * Who is in the room, beside the messages: one row per name, with `×2` when that name has
 * more than one connection (two tabs, a phone and a laptop). The list itself is kept by
 * shared/presence.ts; this only draws it.
 */
export class PresenceList {
  constructor(
    private readonly list: HTMLUListElement,
    /** Said instead of the list where the transport brings no presence (the raw endpoint). */
    private readonly note: HTMLElement,
  ) {}

  /** Whether this transport lists names at all. */
  listed(available: boolean): void {
    this.list.hidden = !available;
    this.note.hidden = available;
  }

  show(members: readonly PresenceMember[], ownName: string | undefined): void {
    this.list.replaceChildren(...members.map((member) => this.row(member, member.name === ownName)));
  }

  private row(member: PresenceMember, mine: boolean): HTMLLIElement {
    const row = document.createElement('li');
    row.className = mine ? 'member mine' : 'member';
    const name = document.createElement('span');
    name.className = 'member-name';
    name.textContent = member.name;
    row.append(name);
    if (member.connections > 1) {
      const count = document.createElement('span');
      count.className = 'connections';
      count.textContent = ` ×${member.connections}`;
      count.title = `${member.connections} connections`;
      row.append(count);
    }
    return row;
  }
}
