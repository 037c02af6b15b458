import { isDeleted, type Ban, type BanKind, type HistoryMessage, type Presence, type PresenceMember } from '../../server/protocol.js';
import { clockTime } from '../shared/format.js';
import { button, element, timeElement } from '../web/dom.js';
import type { ApiRoom, MessagePage } from './api.js';
import { setText, syncChildren } from './keyed-list.js';
import { rateWords, type Rate } from './rate.js';

/** How many of a room's latest messages its list shows, newest first. */
export const RECENT_SHOWN = 20;

/** What the page read of one room in one poll. */
export interface RoomReading {
  room: ApiRoom;
  /** Absent: nobody is online, so it was not asked. */
  presence?: Presence;
  /** The newest messages, oldest first; absent: not read this time (none in the last minute, and the list is closed). */
  latest?: MessagePage;
  /** Null: the room has no stored messages. */
  rate: Rate | null;
}

/** What the buttons ask for; the page does it and says how it went. */
export interface RoomHandlers {
  kick(room: string, user: string, name: string, button: HTMLButtonElement): void;
  ban(kind: BanKind, room: string, user: string, name: string, button: HTMLButtonElement): void;
  deleteMessage(room: string, id: string, button: HTMLButtonElement): void;
  /** A room's message list was opened: it wants reading now rather than at the next poll. */
  opened(room: string): void;
}

/**
 * The user a moderation request names for a member: with JWT its token's `sub`, without
 * JWT its display name (which is what the server knows it by then).
 */
export function memberUser(member: PresenceMember): string {
  return member.user ?? member.name;
}

/** One card per room: who is in it with their buttons, its message rate, and its recent messages. */
export class RoomsView {
  constructor(
    private readonly list: HTMLUListElement,
    private readonly empty: HTMLElement,
    private readonly handlers: RoomHandlers,
  ) {}

  /** Whether `room`'s message list is open (its messages are read on every poll then). */
  wantsMessages(room: string): boolean {
    const details = this.card(room)?.querySelector('details');
    return details?.open ?? false;
  }

  show(readings: readonly RoomReading[], bans: readonly Ban[]): void {
    this.empty.hidden = readings.length > 0;
    syncChildren(
      this.list,
      readings,
      (reading) => reading.room.name,
      (reading) => this.makeCard(reading.room.name),
      (card, reading) => this.updateCard(card, reading, bans),
    );
  }

  clear(): void {
    this.list.replaceChildren();
  }

  private card(room: string): HTMLElement | undefined {
    return this.list.querySelector<HTMLElement>(`:scope > li[data-room="${CSS.escape(room)}"]`) ?? undefined;
  }

  private makeCard(room: string): HTMLLIElement {
    const card = element('li', 'room-card');
    card.dataset['room'] = room;
    const title = element('h3', 'room-name', room);
    title.id = `room-${room}`;
    card.setAttribute('aria-labelledby', title.id);
    const stats = element('p', 'room-stats');
    stats.append(element('span', 'online'), ' · ', element('span', 'rate'));
    const members = element('ul', 'members');
    members.setAttribute('aria-label', `Members of ${room}`);
    const nobody = element('p', 'nobody', 'Nobody is here now.');
    const details = element('details', 'recent');
    const summary = element('summary', 'recent-title', 'Recent messages');
    const messages = element('ol', 'messages');
    messages.setAttribute('aria-label', `Recent messages in ${room}, newest first`);
    details.append(summary, element('p', 'recent-note', 'Reading…'), messages);
    details.addEventListener('toggle', () => {
      if (details.open) this.handlers.opened(room);
    });
    card.append(title, stats, members, nobody, details);
    return card;
  }

  private updateCard(card: HTMLElement, reading: RoomReading, bans: readonly Ban[]): void {
    const room = reading.room.name;
    setText(card.querySelector('.online') as HTMLElement, `${reading.room.online} online`);
    setText(card.querySelector('.rate') as HTMLElement, reading.rate === null ? 'no messages' : rateWords(reading.rate));
    const members = reading.presence?.members ?? [];
    const list = card.querySelector('.members') as HTMLUListElement;
    list.hidden = members.length === 0;
    (card.querySelector('.nobody') as HTMLElement).hidden = members.length > 0;
    syncChildren(
      list,
      members,
      (member) => (member.user !== undefined ? `user:${member.user}` : `name:${member.name}`),
      (member) => this.makeMember(room, member),
      (row, member) => updateMember(row, member, standing(bans, room, memberUser(member))),
    );
    if (reading.latest !== undefined) this.showMessages(card, room, reading.latest, reading.rate === null);
  }

  private makeMember(room: string, member: PresenceMember): HTMLLIElement {
    const user = memberUser(member);
    const row = element('li', 'member');
    row.dataset['user'] = user;
    const actions = element('span', 'member-actions');
    const who = member.user !== undefined ? `${member.name} (${member.user})` : member.name;
    const kick = button('kick', 'Kick', `Kick ${who} from ${room}`);
    kick.addEventListener('click', () => this.handlers.kick(room, user, member.name, kick));
    const mute = button('mute', 'Mute', `Mute ${who}`);
    mute.addEventListener('click', () => this.handlers.ban('mute', room, user, member.name, mute));
    const ban = button('ban', 'Ban', `Ban ${who}`);
    ban.addEventListener('click', () => this.handlers.ban('ban', room, user, member.name, ban));
    actions.append(kick, mute, ban);
    row.append(element('span', 'member-name'), element('span', 'member-user'), element('span', 'connections'), element('span', 'standing'), actions);
    return row;
  }

  private showMessages(card: HTMLElement, room: string, page: MessagePage, none: boolean): void {
    const newestFirst = page.messages.slice(-RECENT_SHOWN).reverse();
    const note = card.querySelector('.recent-note') as HTMLElement;
    setText(note, none || newestFirst.length === 0 ? 'No messages.' : `The latest ${newestFirst.length}, newest first.`);
    syncChildren(
      card.querySelector('.messages') as HTMLOListElement,
      newestFirst,
      // A message deleted since is another element: its button goes with its text.
      (message) => `${message.id}${isDeleted(message) ? ':deleted' : ''}`,
      (message) => this.makeMessage(room, message),
      () => {},
    );
  }

  private makeMessage(room: string, message: HistoryMessage): HTMLLIElement {
    const row = element('li', 'message');
    row.dataset['id'] = message.id;
    const time = timeElement(message.at);
    if (isDeleted(message)) {
      row.classList.add('deleted');
      row.append(time, ' ', element('span', 'text', 'deleted'));
      return row;
    }
    const remove = button('delete', 'Delete', `Delete the message from ${message.name} at ${clockTime(message.at)}`);
    remove.addEventListener('click', () => this.handlers.deleteMessage(room, message.id, remove));
    row.append(time, ' ', element('span', 'name', message.name), ' ', element('span', 'text', message.text), ' ', remove);
    return row;
  }
}

/** `muted`, `banned`: the bans and mutes in force on `user` in `room` (or everywhere). */
function standing(bans: readonly Ban[], room: string, user: string): string {
  const kinds = new Set(bans.filter((ban) => ban.user === user && (ban.room === null || ban.room === room)).map((ban) => ban.kind));
  return [kinds.has('ban') ? 'banned' : '', kinds.has('mute') ? 'muted' : ''].filter((word) => word !== '').join(', ');
}

function updateMember(row: HTMLElement, member: PresenceMember, standingText: string): void {
  const [name, user, connections, standingNode] = Array.from(row.children) as HTMLElement[];
  setText(name as HTMLElement, member.name);
  setText(user as HTMLElement, member.user !== undefined ? ` (${member.user})` : '');
  setText(connections as HTMLElement, member.connections > 1 ? ` ×${member.connections}` : '');
  (connections as HTMLElement).title = member.connections > 1 ? `${member.connections} connections` : '';
  setText(standingNode as HTMLElement, standingText === '' ? '' : ` ${standingText}`);
}
