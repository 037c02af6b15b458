/**
 * The admin page at /admin, for the holder of the server's API key: the rooms with who is
 * in each and their message rates, the bans and mutes in force, and buttons to kick, ban,
 * mute, lift and delete a message. It speaks only the HTTP API, as any backend would.
 *
 * The key comes in the fragment, `/admin#key=...` (a fragment never leaves the browser),
 * or through the login form. The page takes it out of the address bar at once, keeps it
 * for the tab (sessionStorage, so a reload still has it), and sends it only in the
 * `Authorization` header: no request line or access log ever has it.
 *
 * The page reads everything again every 2 seconds while the tab is visible, and at once
 * after each action; a hidden tab asks nothing.
 */
import type { BanKind } from '../../server/protocol.js';
import { clockTime } from '../shared/format.js';
import { byId } from '../web/dom.js';
import { AdminApi, ApiFailure, failureWords, type NewBan } from './api.js';
import { readBanForm, untilFrom } from './ban-form.js';
import { BansView, banTarget } from './bans-view.js';
import { setText } from './keyed-list.js';
import { RATE_WINDOW_MS, messageRate, type Rate } from './rate.js';
import { RoomsView, type RoomReading } from './rooms-view.js';

const KEY_STORAGE = 'chat-bridge.admin-key';
const POLL_MS = 2_000;
// index.html says these numbers to the reader too.
/** Rooms and bans a poll lists: the API's first page of each, at its largest. */
const ROOM_LIMIT = 1_000;
const BAN_LIMIT = 1_000;
/** A room's latest messages read for its rate and its list. */
const LATEST_READ = 100;

const page = {
  status: byId<HTMLElement>('status'),
  statusText: byId<HTMLElement>('status-text'),
  updated: byId<HTMLElement>('updated'),
  logOut: byId<HTMLButtonElement>('log-out'),
  login: byId<HTMLElement>('login'),
  loginForm: byId<HTMLFormElement>('login-form'),
  key: byId<HTMLInputElement>('key'),
  loginProblem: byId<HTMLElement>('login-problem'),
  console: byId<HTMLElement>('console'),
  notice: byId<HTMLElement>('notice'),
  problem: byId<HTMLElement>('problem'),
  reason: byId<HTMLInputElement>('reason'),
  scope: byId<HTMLSelectElement>('scope'),
  duration: byId<HTMLSelectElement>('duration'),
  moreRooms: byId<HTMLElement>('more-rooms'),
  banForm: byId<HTMLFormElement>('ban-form'),
  banProblem: byId<HTMLElement>('ban-problem'),
};
const banFields = {
  kind: byId<HTMLSelectElement>('ban-kind'),
  by: byId<HTMLSelectElement>('ban-by'),
  target: byId<HTMLInputElement>('ban-target'),
  room: byId<HTMLInputElement>('ban-room'),
  duration: byId<HTMLSelectElement>('ban-duration'),
  reason: byId<HTMLInputElement>('ban-reason'),
};

/** Session storage may be unavailable (blocked storage); the page then forgets the key on reload. */
const keyStore = {
  get(): string | null {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  },
  set(key: string | null): void {
    try {
      if (key === null) window.sessionStorage.removeItem(KEY_STORAGE);
      else window.sessionStorage.setItem(KEY_STORAGE, key);
    } catch {
      // Kept in memory only.
    }
  },
};

const rooms = new RoomsView(byId<HTMLUListElement>('rooms'), byId<HTMLElement>('no-rooms'), {
  kick: (room, user, name, button) => {
    act(button, `Kick ${name}`, () => current().kick(room, user, page.reason.value.trim()), `Kicked ${name} from ${room}.`);
  },
  ban: (kind, room, user, name, button) => {
    const scoped = page.scope.value === 'all' ? null : room;
    const ban: NewBan = { kind, user, room: scoped, until: untilFrom(page.duration.value, current().serverNow()) };
    const reason = page.reason.value.trim();
    if (reason !== '') ban.reason = reason;
    act(button, `${kindVerb(kind)} ${name}`, () => current().ban(ban), `${kindPast(kind)} ${name} ${scoped === null ? 'in every room' : `in ${room}`} ${lastingWords(page.duration)}.`);
  },
  deleteMessage: (room, id, button) => {
    act(button, 'Delete the message', () => current().deleteMessage(room, id), `Deleted the message from ${room}.`);
  },
  opened: () => pollSoon(),
});
const bans = new BansView(byId<HTMLTableSectionElement>('bans'), byId<HTMLElement>('no-bans'), byId<HTMLElement>('more-bans'), (ban, button) => {
  act(button, `Lift the ${ban.kind} of ${banTarget(ban)}`, () => current().lift(ban.id), `Lifted the ${ban.kind} of ${banTarget(ban)}.`);
});

const kindVerb = (kind: BanKind) => (kind === 'mute' ? 'Mute' : 'Ban');
const kindPast = (kind: BanKind) => (kind === 'mute' ? 'Muted' : 'Banned');
function lastingWords(select: HTMLSelectElement): string {
  return select.value === '' ? 'until lifted' : `for ${select.selectedOptions[0]?.textContent ?? select.value}`;
}

/** The API as the key holder, while logged in. */
let api: AdminApi | undefined;

function current(): AdminApi {
  if (api === undefined) throw new Error('not logged in');
  return api;
}

/**
 * The state of the polling, in a live region: it changes (and is read out) only when the
 * state does. The time of the last read is beside it, outside the region, so that a
 * screen reader does not announce it every two seconds.
 */
function showStatus(state: 'idle' | 'ok' | 'paused' | 'failed', text: string): void {
  page.status.dataset['state'] = state;
  setText(page.statusText, text);
  if (state === 'ok') setText(page.updated, `updated at ${clockTime(Date.now())}`);
  else if (state === 'idle') setText(page.updated, '');
}

function showText(node: HTMLElement, text: string): void {
  node.textContent = text;
  node.hidden = text === '';
}

/**
 * Does what a button asks; says how it went, and reads everything again at once. The
 * button says it is busy (and ignores clicks) meanwhile, keeping the focus where it is.
 */
function act(button: HTMLButtonElement, what: string, work: () => Promise<unknown>, done: string): void {
  if (button.getAttribute('aria-disabled') === 'true' || api === undefined) return;
  button.setAttribute('aria-disabled', 'true');
  const session = api;
  work().then(
    () => {
      if (session !== api) return;
      page.notice.textContent = done;
      showText(page.problem, '');
    },
    (err: unknown) => {
      if (session !== api) return;
      if (refusedKey(err)) return;
      page.notice.textContent = '';
      showText(page.problem, `${what}: ${failureWords(err)}.`);
    },
  ).finally(() => {
    button.removeAttribute('aria-disabled');
    pollSoon();
  });
}

page.banForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (api === undefined) return;
  const ban = readBanForm(banFields, api.serverNow());
  if (typeof ban === 'string') {
    showText(page.banProblem, ban);
    return;
  }
  showText(page.banProblem, '');
  const submit = page.banForm.querySelector('button[type="submit"]') as HTMLButtonElement;
  const whom = ban.user !== undefined ? `user ${ban.user}` : `address ${ban.ip ?? ''}`;
  act(submit, `${kindVerb(ban.kind)} ${whom}`, async () => {
    await current().ban(ban);
    banFields.target.value = '';
  }, `${kindPast(ban.kind)} ${whom} ${ban.room === null ? 'in every room' : `in ${ban.room}`} ${lastingWords(banFields.duration)}.`);
});

// Polling: one read at a time; the next one POLL_MS after it ends, or at once when asked.
let timer: ReturnType<typeof setTimeout> | undefined;
let reading = false;
let readAgain = false;

/** Reads everything again as soon as the read under way (if any) is over. */
function pollSoon(): void {
  if (reading) readAgain = true;
  else void poll();
}

async function poll(): Promise<void> {
  clearTimeout(timer);
  timer = undefined;
  const session = api;
  if (session === undefined) return;
  if (document.visibilityState === 'hidden') {
    showStatus('paused', 'Paused while this tab is hidden');
    return;
  }
  reading = true;
  readAgain = false;
  try {
    const [readings, banPage] = await Promise.all([readRooms(session), session.bans(BAN_LIMIT)]);
    if (session !== api) return;
    rooms.show(readings, banPage.bans);
    bans.show(banPage.bans, banPage.next !== null);
    showStatus('ok', 'Live: read every 2 seconds');
  } catch (err) {
    if (session !== api || refusedKey(err)) return;
    showStatus('failed', `Not updated: ${failureWords(err)}; trying again`);
  } finally {
    reading = false;
    if (session === api) timer = setTimeout(() => void poll(), readAgain ? 0 : POLL_MS);
  }
}

/** Every room on the first page, with its members (when anyone is online), rate and latest messages. */
async function readRooms(session: AdminApi): Promise<RoomReading[]> {
  const list = await session.rooms(ROOM_LIMIT);
  page.moreRooms.hidden = list.next === null;
  const now = session.serverNow();
  return Promise.all(
    list.rooms.map(async (room): Promise<RoomReading> => {
      // A room whose last message is older than the window has a rate of 0 without reading it.
      const recent = room.lastMessageAt !== null && room.lastMessageAt > now - RATE_WINDOW_MS;
      const [presence, latest] = await Promise.all([
        room.online > 0 ? session.presence(room.name) : undefined,
        recent || rooms.wantsMessages(room.name) ? session.messages(room.name, LATEST_READ) : undefined,
      ]);
      let rate: Rate | null = null;
      if (room.lastMessageAt !== null) rate = latest === undefined ? { count: 0, atLeast: false } : messageRate(latest.messages, latest.more, now);
      return { room, presence, latest, rate };
    }),
  );
}

/** A 401: the key is wrong (or was changed on the server). Back to the login form, saying so. */
function refusedKey(err: unknown): boolean {
  if (!(err instanceof ApiFailure) || err.status !== 401) return false;
  logOut('The server refused this API key.');
  return true;
}

function logIn(key: string): void {
  api = new AdminApi(key);
  keyStore.set(key);
  page.login.hidden = true;
  page.console.hidden = false;
  page.logOut.hidden = false;
  showText(page.loginProblem, '');
  showStatus('idle', 'Reading…');
  void poll();
}

function logOut(problem = '', status = 'Logged out'): void {
  api = undefined;
  clearTimeout(timer);
  keyStore.set(null);
  rooms.clear();
  bans.clear();
  page.notice.textContent = '';
  showText(page.problem, '');
  page.console.hidden = true;
  page.logOut.hidden = true;
  page.login.hidden = false;
  page.key.value = '';
  showText(page.loginProblem, problem);
  showStatus('idle', status);
  page.key.focus();
}

/**
 * Takes `key=` out of the fragment, if it is there, and returns it. Read by hand rather
 * than with URLSearchParams, which would turn a `+` in the key into a space.
 */
function takeKeyFromFragment(): string | undefined {
  let found: string | undefined;
  for (const pair of window.location.hash.slice(1).split('&')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at) !== 'key') continue;
    try {
      found = decodeURIComponent(pair.slice(at + 1));
    } catch {
      found = pair.slice(at + 1);
    }
  }
  if (found === undefined) return undefined;
  window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}`);
  return found.trim() === '' ? undefined : found;
}

page.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = page.key.value.trim();
  if (key === '') return;
  logIn(key);
});

page.logOut.addEventListener('click', () => logOut());

// A link with a key, opened in this tab: that key from now on.
window.addEventListener('hashchange', () => {
  const key = takeKeyFromFragment();
  if (key !== undefined) logIn(key);
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') pollSoon();
});

const start = takeKeyFromFragment() ?? keyStore.get();
if (start === null || start === undefined) logOut('', 'Not logged in');
else logIn(start);
