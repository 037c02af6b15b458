import type { UserRoom } from '../../server/protocol.js';
import { element } from './dom.js';

/**
 * The reader's rooms beside the room field, each a link that switches to it, with how
 * many messages wait unread there: "alpha (3)". The server lists the rooms where this
 * user has read something; the room the page is in shows no count (it is being read).
 */
export class RoomList {
  constructor(
    private readonly nav: HTMLElement,
    private readonly list: HTMLUListElement,
    /** The link that switches to a room. */
    private readonly href: (room: string) => string,
  ) {
    this.clear();
  }

  clear(): void {
    this.list.replaceChildren();
    this.nav.hidden = true;
  }

  show(rooms: readonly UserRoom[], current: string): void {
    this.list.replaceChildren(...rooms.map((room) => this.item(room, room.name === current)));
    this.nav.hidden = rooms.length === 0;
  }

  private item(room: UserRoom, current: boolean): HTMLLIElement {
    const item = element('li', 'user-room');
    const link = element('a', 'room-link', room.name);
    link.href = this.href(room.name);
    item.dataset['room'] = room.name;
    if (current) {
      link.setAttribute('aria-current', 'page');
    } else if (room.unread > 0) {
      link.append(' ', element('span', 'unread', `(${room.unread})`));
      link.title = `${room.unread} unread`;
    }
    item.append(link);
    return item;
  }
}
