import type { Ban } from '../../server/protocol.js';
import { button, element } from '../web/dom.js';
import { syncChildren } from './keyed-list.js';

/** `user troll` or `address 203.0.113.9`: whom a ban is on. */
export function banTarget(ban: Ban): string {
  return ban.user !== undefined ? `user ${ban.user}` : `address ${ban.ip ?? '?'}`;
}

/** A time as the reader's local date and time, to the minute. */
function when(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** The bans and mutes in force, one table row each, with a button that lifts it. */
export class BansView {
  constructor(
    private readonly rows: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly more: HTMLElement,
    private readonly lift: (ban: Ban, button: HTMLButtonElement) => void,
  ) {}

  /** `more`: the server has more than these (the list shows its first page only). */
  show(bans: readonly Ban[], more: boolean): void {
    this.empty.hidden = bans.length > 0;
    this.more.hidden = !more;
    syncChildren(
      this.rows,
      bans,
      (ban) => ban.id,
      (ban) => this.makeRow(ban),
      () => {},
    );
  }

  clear(): void {
    this.rows.replaceChildren();
  }

  private makeRow(ban: Ban): HTMLTableRowElement {
    const row = element('tr', 'ban-row');
    row.dataset['id'] = ban.id;
    row.dataset['kind'] = ban.kind;
    const lift = button('lift', 'Lift', `Lift the ${ban.kind} of ${banTarget(ban)}${ban.room === null ? '' : ` in ${ban.room}`}`);
    lift.addEventListener('click', () => this.lift(ban, lift));
    const cells = [
      ban.kind,
      banTarget(ban),
      ban.room ?? 'every room',
      ban.until === null ? 'for good' : when(ban.until),
      ban.reason,
      ban.by,
      when(ban.at),
    ].map((text, index) => element('td', CELL_CLASSES[index] ?? '', text));
    const action = element('td', 'ban-action');
    action.append(lift);
    row.append(...cells, action);
    return row;
  }
}

const CELL_CLASSES = ['ban-kind', 'ban-target', 'ban-room', 'ban-until', 'ban-reason', 'ban-by', 'ban-at'];
