import type { PresenceMember } from '../../server/protocol.js';
import { sameMember, type MemberIdentity } from '../shared/presence.js';

/**
 * Who is in the room, beside the messages: one row per member, with `×2` when it has more
 * than one connection (two tabs, a phone and a laptop). With JWT a member is a user: two
 * users who show the same name are two rows, each with its user after the name. The list
 * itself is kept by shared/presence.ts; this only draws it.
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

  /** `own`: this client, once its own join has said who the server made it. */
  show(members: readonly PresenceMember[], own: MemberIdentity | undefined): void {
    const seen = new Set<string>();
    const shared = new Set<string>();
    for (const { name } of members) {
      if (seen.has(name)) shared.add(name);
      seen.add(name);
    }
    this.list.replaceChildren(...members.map((member) => this.row(member, own !== undefined && sameMember(member, own), shared.has(member.name))));
  }

  /** `withUser`: another row shows the same name, so this one shows its user too. */
  private row(member: PresenceMember, mine: boolean, withUser: boolean): HTMLLIElement {
    const row = document.createElement('li');
    row.className = mine ? 'member mine' : 'member';
    if (member.user !== undefined) row.title = member.user;
    const name = document.createElement('span');
    name.className = 'member-name';
    name.textContent = member.name;
    row.append(name);
    if (withUser && member.user !== undefined) {
      const user = document.createElement('span');
      user.className = 'member-user';
      user.textContent = ` (${member.user})`;
      row.append(user);
    }
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
