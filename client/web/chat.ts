/**
 * The chat page at /chat: one ChatSession (the same code as the terminal client's) over
 * Socket.IO or, at the flip of a switch, over the raw WebSocket endpoint, in the room the
 * URL names: `/chat#room=alpha` (the lobby without one). Another room is another session,
 * opened without reloading the page.
 *
 * A server that asks for a token gets it from the fragment too, `/chat#token=...` or
 * `/chat#room=alpha&token=...`: a fragment never leaves the browser, so the token is in no
 * request line or server log. The page takes it out of the address bar at once, keeps it
 * for the tab (sessionStorage, so a reload still has it), and sends it in every room's
 * Socket.IO handshake (`auth.token`) or, over the raw endpoint, as `?token=` (the only way
 * a browser WebSocket can carry it).
 *
 * Over both (the raw endpoint in JSON mode), a message can be edited and deleted by its
 * author and reacted to by anyone (its `⋯` menu), older history loads at the top, the
 * newest message shown is marked read and others' markers show as "seen by", and the
 * reader's rooms are listed with their unread counts.
 */
import { DEFAULT_ROOM, MAX_ROOM_NAME_LENGTH, isDeleted, isRoomName, type HistoryMessage, type RawFormat } from '../../server/protocol.js';
import { isRoomRefusal, isTokenRefusal, noticeSummary } from '../shared/format.js';
import { byId } from './dom.js';
import { EMPTY_PRESENCE, applyNotice, presenceFrom, type RoomPresence } from '../shared/presence.js';
import { ChatSession, type SessionStatus, type TransportKind } from '../shared/session.js';
import { browserConnectors, socketIoLoaded } from './connectors.js';
import { SessionActions } from './message-actions.js';
import { MessageList } from './message-list.js';
import { closeMenusFromOutside } from './message-menu.js';
import { OlderMessages } from './older-messages.js';
import { PresenceList } from './presence-list.js';
import { ReadTracker, SeenBy } from './read-markers.js';
import { RoomList } from './room-list.js';
import { TypingIndicator } from './typing.js';

const STORAGE = { name: 'chat-bridge.name', transport: 'chat-bridge.transport', token: 'chat-bridge.token' } as const;
/** Over the raw endpoint the page speaks JSON: raw text (seed) mode has no ids, edits, reactions or markers. */
const RAW_FORMAT: RawFormat = 'json';

const page = {
  status: byId<HTMLElement>('status'),
  statusText: byId<HTMLElement>('status-text'),
  online: byId<HTMLElement>('online'),
  name: byId<HTMLInputElement>('name'),
  transport: byId<HTMLSelectElement>('transport'),
  roomLabel: byId<HTMLElement>('room-label'),
  roomForm: byId<HTMLFormElement>('room-form'),
  room: byId<HTMLInputElement>('room'),
  roomProblem: byId<HTMLElement>('room-problem'),
  accessProblem: byId<HTMLElement>('access-problem'),
  log: byId<HTMLElement>('log'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLInputElement>('text'),
};
const actions = new SessionActions({
  problem: (text) => messages.addProblem(text),
  reactionsChanged: (id) => messages.drawChips(id),
  edited: (edit) => messages.edit(edit),
});
const messages = new MessageList(page.log, byId<HTMLOListElement>('messages'), actions);
const older = new OlderMessages(byId<HTMLButtonElement>('load-older'), page.log, {
  fetch: (before, limit) => session?.older(before, limit),
  oldestId: () => messages.oldestId(),
  show: (page) => {
    messages.prepend(page, mine);
    seenBy.drawAll();
    readTracker.check();
  },
  problem: (text) => messages.addProblem(text),
});
messages.onTrimmed = () => older.trimmed();
const readTracker = new ReadTracker(page.log, messages);
const seenBy = new SeenBy((id, names) => messages.showSeenBy(id, names));
const userRooms = new RoomList(byId<HTMLElement>('rooms-nav'), byId<HTMLUListElement>('rooms'), (room) => roomFragment(room));
closeMenusFromOutside();
const typing = new TypingIndicator(byId<HTMLElement>('typing'));
const presenceList = new PresenceList(byId<HTMLUListElement>('members'), byId<HTMLElement>('presence-note'));

/**
 * Web storage may be unavailable (private modes, blocked storage); the page works without
 * it. localStorage for what is remembered across visits, sessionStorage for the token,
 * which is kept for this tab only.
 */
function storageIn(area: () => Storage) {
  return {
    get(key: string): string | null {
      try {
        return area().getItem(key);
      } catch {
        return null;
      }
    },
    set(key: string, value: string): void {
      try {
        if (value === '') area().removeItem(key);
        else area().setItem(key, value);
      } catch {
        // Not remembered this time; nothing else depends on it.
      }
    },
  };
}
const storage = storageIn(() => window.localStorage);
const tabStorage = storageIn(() => window.sessionStorage);

function statusWords(status: SessionStatus): string {
  switch (status.state) {
    case 'connecting':
      return status.attempt > 0 ? 'Reconnecting…' : 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'reconnecting':
      return `Offline, retrying in ${Math.max(1, Math.round(status.delayMs / 1000))} s`;
    case 'failed':
      return `Offline: ${status.reason}`;
    case 'closed':
      return 'Disconnected';
  }
}

function showStatus(status: SessionStatus): void {
  page.status.dataset['state'] = status.state;
  page.statusText.textContent = statusWords(status);
  // Why it is offline, on hover.
  page.status.title = status.state === 'reconnecting' ? status.reason : '';
  if (status.state !== 'connected') typing.clear();
  // The server turning the room down is said where the room is chosen, too, until it lets us in.
  const refusal = status.state === 'reconnecting' || status.state === 'failed' ? status.reason : '';
  if (isRoomRefusal(refusal)) showRoomProblem(`Room ${shownRoom()}: ${refusal}`, true);
  else if (status.state === 'connected' && refusalShown) showRoomProblem('');
  // The token turned down or run out: the session has given up (see ChatSession); say what to do.
  if (isTokenRefusal(refusal)) {
    showAccessProblem(`${refusal.charAt(0).toUpperCase()}${refusal.slice(1)}. Open the page with a valid token: /chat#token=…`);
  } else if (status.state === 'connected') {
    showAccessProblem('');
  }
}

function showAccessProblem(text: string): void {
  page.accessProblem.textContent = text;
  page.accessProblem.hidden = text === '';
}

/** Whether the room problem on show is the server's refusal (gone once it lets us in). */
let refusalShown = false;

function showRoomProblem(text: string, refusal = false): void {
  refusalShown = refusal;
  page.roomProblem.textContent = text;
  page.roomProblem.hidden = text === '';
  page.room.setAttribute('aria-invalid', String(text !== ''));
}

/** What the URL asks for: `#room=<name>`, the lobby without one. Not yet checked. */
function requestedRoom(): string {
  return new URLSearchParams(window.location.hash.slice(1)).get('room') ?? DEFAULT_ROOM;
}

/**
 * The token the page sends: from the fragment when it has one, else the one kept for this
 * tab. Undefined without one.
 */
let token: string | undefined = tabStorage.get(STORAGE.token) ?? undefined;

/**
 * Takes `token=` out of the fragment, if it is there, and keeps it: the page and the tab's
 * history then show only the room. An empty `#token=` forgets it. Read by hand rather than
 * with URLSearchParams, which would turn a `+` in the token into a space. Returns whether
 * the token changed.
 */
function takeTokenFromFragment(): boolean {
  let found: string | undefined;
  for (const pair of window.location.hash.slice(1).split('&')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at) !== 'token') continue;
    try {
      found = decodeURIComponent(pair.slice(at + 1));
    } catch {
      found = pair.slice(at + 1);
    }
  }
  if (found === undefined) return false;
  // What is left for the room: `room=` only (showRoom rewrites the fragment to it).
  window.history.replaceState(null, '', roomFragment(requestedRoom()));
  const next = found.trim() === '' ? undefined : found;
  tabStorage.set(STORAGE.token, next ?? '');
  if (next === token) return false;
  token = next;
  return true;
}

/** The fragment for `room`; setting it to another value is what switches rooms. */
function roomFragment(room: string): string {
  return `#${new URLSearchParams({ room }).toString()}`;
}

let session: ChatSession | undefined;
let presence: RoomPresence = EMPTY_PRESENCE;
/** The room whose messages the list shows: a new name or transport in it keeps them. */
let listedRoom: string | undefined;

/** Whether a message shows as this reader's (by name, as the server gave it). */
function mine(message: HistoryMessage): boolean {
  return !isDeleted(message) && message.name === session?.name;
}

function shownRoom(): string {
  return session?.room ?? requestedRoom();
}

/** Shows the room the page is in, in the header, the room field and the tab's history. */
function showRoom(room: string): void {
  page.roomLabel.textContent = `# ${room}`;
  page.room.value = room;
  if (window.location.hash !== roomFragment(room)) {
    // Replaced, not pushed: a malformed or missing room is not a step to go back to.
    window.history.replaceState(null, '', roomFragment(room));
  }
}

function showPresence(next: RoomPresence): void {
  presence = next;
  const own = session?.name;
  presenceList.show(next.members, own === undefined ? undefined : { name: own, user: session?.user });
}

function notARoomName(text: string, fallback: string): string {
  return `“${text}” is not a room name: use 1-${MAX_ROOM_NAME_LENGTH} of a-z 0-9 - _ . starting with a letter or a digit, never "..". You are in ${fallback}.`;
}

/** (Re)connects in the room the URL names; a malformed one is refused here, and the lobby opened. */
function connect(): void {
  void session?.close();
  session = undefined;
  typing.clear();
  page.online.textContent = '';
  let room = requestedRoom();
  if (isRoomName(room)) {
    showRoomProblem('');
  } else {
    showRoomProblem(notARoomName(room, DEFAULT_ROOM));
    room = DEFAULT_ROOM;
  }
  showRoom(room);
  const transport = page.transport.value as TransportKind;
  const requests = transport === 'socket.io' || RAW_FORMAT === 'json';
  page.log.dataset['actions'] = requests ? 'on' : 'off';
  if (room !== listedRoom) {
    messages.clear();
    seenBy.clear();
    userRooms.clear();
  }
  // The same room with another name or connection keeps its messages, and what is known of older ones.
  older.reset(requests, room === listedRoom);
  listedRoom = room;
  actions.use(undefined);
  readTracker.reset(undefined);
  presenceList.listed(transport === 'socket.io');
  showPresence(EMPTY_PRESENCE);
  if (transport === 'socket.io' && !socketIoLoaded()) {
    showStatus({ state: 'failed', reason: 'the Socket.IO client script did not load' });
    return;
  }
  const name = page.name.value.trim();
  const current: ChatSession = new ChatSession({
    url: window.location.origin,
    transport,
    name: name === '' ? undefined : name,
    room,
    token,
    rawFormat: RAW_FORMAT,
    retry: 'always',
    connectors: browserConnectors,
    handlers: {
      status: (status) => {
        if (current !== session) return;
        if (status.state === 'reconnecting') actions.connectionLost(current);
        showStatus(status);
      },
      chat: (message) => {
        if (current !== session) return;
        typing.stopped(message.name);
        messages.add(message, message.name === current.name);
        readTracker.check();
      },
      notice: (notice, own) => {
        if (current !== session) return;
        if (own && name === '') page.name.placeholder = notice.name;
        showPresence(applyNotice(presence, notice, own));
        if (notice.kind === 'leave') typing.stopped(notice.name);
        page.online.textContent = `${notice.online} online`;
        messages.addNotice(own ? `You joined as ${notice.name} (${notice.online} online)` : noticeSummary(notice), notice.at);
        if (own && requests) {
          showUserRooms(current);
          older.fillEmpty();
        }
      },
      // Sent before this client's join notice: "mine" can only go by the name asked for.
      history: (recent) => {
        if (current !== session) return;
        for (const message of recent) messages.add(message, !isDeleted(message) && message.name === name);
        seenBy.drawAll();
        readTracker.check();
      },
      presence: (snapshot) => {
        if (current !== session) return;
        page.online.textContent = `${snapshot.online} online`;
        showPresence(presenceFrom(snapshot));
      },
      typing: (who) => {
        if (current === session) typing.typing(who.name);
      },
      // Not expected in JSON mode; shown as it came rather than dropped.
      seedFrame: (text) => {
        if (current === session) messages.addNotice(text, Date.now());
      },
      edited: (edit) => {
        if (current === session) messages.edit(edit);
      },
      deleted: (deleted) => {
        if (current !== session) return;
        messages.delete(deleted);
        readTracker.check();
      },
      reaction: (reaction) => {
        if (current === session) messages.react(reaction);
      },
      read: (marker) => {
        if (current !== session) return;
        // With JWT a reader is a user; without, a name (the server's user is the name then).
        const self = current.user !== undefined ? marker.user === current.user : marker.user === undefined && marker.name === current.name;
        seenBy.marker(marker, self);
      },
    },
  });
  session = current;
  if (requests) {
    actions.use(current);
    readTracker.reset((id) => current.markRead(id));
  }
  current.start();
}

/** The reader's rooms and what is unread in each, asked for on joining a room. */
function showUserRooms(current: ChatSession): void {
  current.unread().then(
    (ack) => {
      if (current === session && ack.ok) userRooms.show(ack.rooms, current.room);
    },
    // Not connected any more: the next join asks again.
    () => {},
  );
}

page.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = page.text.value;
  if (text.trim() === '' || session === undefined) return;
  if (page.status.dataset['state'] !== 'connected') {
    // Kept in the box, to send once the connection is back.
    page.statusText.textContent = 'Not connected yet; your message is still in the box';
    return;
  }
  page.text.value = '';
  const current = session;
  current.send(text).then(
    (id) => {
      if (id !== undefined) actions.ownSent(current, id);
    },
    (err: unknown) => {
      messages.addProblem(`Not sent: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
});

page.roomForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = page.room.value.trim();
  if (!isRoomName(room)) {
    showRoomProblem(room === '' ? `Type a room name, e.g. ${DEFAULT_ROOM}.` : notARoomName(room, shownRoom()));
    return;
  }
  showRoomProblem('');
  // The hashchange that follows reconnects; the same room again is left as it is.
  if (room !== session?.room) window.location.hash = roomFragment(room);
});

// A new fragment (the room field, a link, Back or Forward) is a room switch, never a reload.
window.addEventListener('hashchange', () => {
  // A link with a new token: that token from now on, in this room or the one it names.
  const newToken = takeTokenFromFragment();
  const room = requestedRoom();
  if (session !== undefined && !isRoomName(room)) {
    // Typed into the address bar: say so, and stay where the page is.
    showRoomProblem(notARoomName(room, session.room));
    showRoom(session.room);
    return;
  }
  if (newToken || room !== session?.room) connect();
});

page.text.addEventListener('input', () => {
  if (page.text.value.trim() !== '') session?.typing();
});

page.name.addEventListener('change', () => {
  page.name.value = page.name.value.trim();
  storage.set(STORAGE.name, page.name.value);
  connect();
});
page.name.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') page.name.blur();
});

page.transport.addEventListener('change', () => {
  storage.set(STORAGE.transport, page.transport.value);
  connect();
});

page.name.value = storage.get(STORAGE.name) ?? '';
const savedTransport = storage.get(STORAGE.transport);
if (savedTransport === 'raw' || savedTransport === 'socket.io') page.transport.value = savedTransport;
takeTokenFromFragment();
connect();
