import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { TYPING_INTERVAL_MS } from '../server/protocol';
import { describeWithBrowser } from './support/browser';
import { signingKey, signToken } from './support/jwt';
import { escapeRegExp } from './support/regexp';
import { connectRaw } from './support/raw-client';
import { JOIN, LEAVE } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

// Browser steps on a busy two-core machine: generous waits, never fixed sleeps.
jest.setTimeout(90_000);
const WAIT = { timeout: 15_000 };

const SCREENSHOTS = join(__dirname, '..', 'test-output');

type Transport = 'socket.io' | 'raw';

describeWithBrowser('the /chat page in Chromium', (browser) => {
  /**
   * Opens /chat (`fragment`: e.g. `#room=alpha`) as a returning user whose name (and choice
   * of transport) the page remembers.
   */
  async function openChat(
    url: string,
    name: string,
    transport: Transport = 'socket.io',
    viewport = { width: 900, height: 700 },
    fragment = '',
  ) {
    const page = await browser.open(`${url}/chat${fragment}`, {
      viewport,
      storage: { 'chat-bridge.name': name, 'chat-bridge.transport': transport },
    });
    await connected(page);
    return page;
  }

  const connected = (page: Page) => page.locator('#status[data-state="connected"]').waitFor(WAIT);
  const online = (page: Page, count: number) => page.locator('#online', { hasText: new RegExp(`^${count} online$`) }).waitFor(WAIT);

  /** The chat row on `page` with exactly this text, once it is there. */
  async function chatRow(page: Page, text: string) {
    const exactly = new RegExp(`^${escapeRegExp(text)}$`);
    const row = page.locator('#messages li.chat').filter({ has: page.locator('.text', { hasText: exactly }) }).last();
    await row.waitFor(WAIT);
    return row;
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#text').fill(text);
    await page.locator('#text').press('Enter');
  }

  it('lets two pages and a raw client chat with each other both ways, and keeps the online count', async () => {
    const server = await startTestServer();
    const alice = await openChat(server.url, 'alice');
    await online(alice, 1);
    const bob = await openChat(server.url, 'bob', 'raw');
    await online(alice, 2);
    await online(bob, 2);
    const carol = await connectRaw(server.url, { name: 'carol' });
    expect(await carol.messages.next()).toBe(JOIN);
    await online(alice, 3);
    await online(bob, 3);

    await say(alice, 'hi from the Socket.IO page');
    expect(await (await chatRow(bob, 'hi from the Socket.IO page')).locator('.name').textContent()).toBe('alice');
    expect(await carol.messages.next()).toBe('hi from the Socket.IO page');
    expect(await (await chatRow(alice, 'hi from the Socket.IO page')).getAttribute('class')).toBe('chat mine');

    await say(bob, 'hi from the raw WebSocket page');
    expect(await (await chatRow(alice, 'hi from the raw WebSocket page')).locator('.name').textContent()).toBe('bob');
    expect(await carol.messages.next()).toBe('hi from the raw WebSocket page');

    carol.send('hi from a console');
    for (const page of [alice, bob]) {
      expect(await (await chatRow(page, 'hi from a console')).locator('.name').textContent()).toBe('carol');
    }

    await carol.close();
    await online(alice, 2);
    await online(bob, 2);
    await alice.locator('#messages li.notice', { hasText: 'carol left (2 online)' }).waitFor(WAIT);
  });

  it('shows "alice is typing…" to another Socket.IO page, clears it when her message comes, and tells raw clients nothing', async () => {
    const server = await startTestServer();
    const seed = await connectRaw(server.url);
    const alice = await openChat(server.url, 'alice');
    const bob = await openChat(server.url, 'bob');
    expect(await seed.messages.take(3)).toEqual([JOIN, JOIN, JOIN]);

    await alice.locator('#text').pressSequentially('hel');
    const typing = bob.locator('#typing');
    // `typing` is volatile: Socket.IO drops it for a receiver whose transport is busy at
    // that instant (a long-polling page between two polls, or mid-upgrade), by design. A
    // person who keeps typing sends another one every TYPING_INTERVAL_MS; so does this
    // test, with a key and its Backspace, which leave the text as it was.
    const shown = bob.locator('#typing', { hasText: /^alice is typing…$/ });
    for (let attempt = 1; ; attempt += 1) {
      try {
        await shown.waitFor({ timeout: TYPING_INTERVAL_MS + 500 });
        break;
      } catch (err) {
        if (attempt === 5) throw err;
        await alice.locator('#text').press('x');
        await alice.locator('#text').press('Backspace');
      }
    }
    expect(await alice.locator('#typing').textContent()).toBe('');

    await alice.locator('#text').pressSequentially('lo');
    await alice.locator('#text').press('Enter');
    await chatRow(bob, 'hello');
    expect(await typing.textContent()).toBe('');
    // The seed endpoint saw the message and, before it on the same connection, nothing about typing.
    await seed.messages.expectNothingBefore('hello');
  });

  it('renders an HTML-injection message as text and runs none of it', async () => {
    const server = await startTestServer();
    const page = await openChat(server.url, 'reader');
    const raw = await connectRaw(server.url, { name: '<b>mallory</b>' });
    const attack = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
    raw.send(attack);

    const row = await chatRow(page, attack);
    expect(await row.locator('.text').textContent()).toBe(attack);
    expect(await row.locator('.name').textContent()).toBe('<b>mallory</b>');
    expect(await page.locator('#messages img, #messages script, #messages b').count()).toBe(0);
    expect(await page.title()).toBe('chat-bridge');
  });

  it.each(['socket.io', 'raw'] as const)('over %s, reconnects after the server restarts on the same port', async (transport) => {
    const first = await startTestServer();
    const page = await openChat(first.url, 'phoenix', transport);

    await first.close();
    await page.locator('#status[data-state="reconnecting"]').waitFor(WAIT);

    const second = await startTestServer({ PORT: String(first.port) });
    const listener = await connectSio(second.url);
    await connected(page);
    await page.locator('#messages li.notice', { hasText: 'You joined as phoenix' }).nth(1).waitFor(WAIT);
    await say(page, 'back again');
    expect(await listener.chats.next(15_000)).toMatchObject({ name: 'phoenix', text: 'back again' });
  });

  it('remembers the name across visits', async () => {
    const server = await startTestServer();
    const page = await browser.open(`${server.url}/chat`);
    await connected(page);
    await page.locator('#name').fill('dora');
    await page.locator('#name').press('Enter');
    await page.locator('#messages li.notice', { hasText: 'You joined as dora' }).waitFor(WAIT);

    await page.reload();
    expect(await page.locator('#name').inputValue()).toBe('dora');
    await page.locator('#messages li.notice', { hasText: 'You joined as dora' }).waitFor(WAIT);
  });

  it('follows new messages at the bottom, and stays put once the reader scrolls up', async () => {
    const server = await startTestServer();
    const page = await openChat(server.url, 'reader', 'socket.io', { width: 390, height: 500 });
    const raw = await connectRaw(server.url, { name: 'chatty' });
    const log = page.locator('#log');
    const distanceFromBottom = () => log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);

    // Few enough to stay well inside any per-connection flood limit.
    for (let i = 1; i <= 30; i += 1) raw.send(`message ${i}`);
    await chatRow(page, 'message 30');
    expect(await distanceFromBottom()).toBeLessThanOrEqual(1);

    await log.evaluate((el) => el.scrollTo({ top: 0 }));
    for (let i = 31; i <= 33; i += 1) raw.send(`message ${i}`);
    await chatRow(page, 'message 33');
    expect(await log.evaluate((el) => el.scrollTop)).toBe(0);

    await log.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    raw.send('message 34');
    await chatRow(page, 'message 34');
    expect(await distanceFromBottom()).toBeLessThanOrEqual(1);
  });

  it('fits a phone screen, and leaves screenshots in test-output/', async () => {
    const server = await startTestServer();
    mkdirSync(SCREENSHOTS, { recursive: true });
    const room = { room: 'design' };
    const bob = await connectRaw(server.url, { name: 'bob' }, {}, room);
    const carol = await connectSio(server.url, { ...room, auth: { name: 'carol' } });
    const phone = await openChat(server.url, 'alice', 'socket.io', { width: 390, height: 720 }, '#room=design');
    const desktop = await openChat(server.url, 'alice', 'socket.io', { width: 900, height: 640 }, '#room=design');

    bob.send('Hi! I am on a raw WebSocket, like the old Tornado tester.');
    await carol.chat('And I am on Socket.IO. Both of us are in the same room.');
    await say(desktop, 'Hello both, from the /chat page. <b>Tags</b> stay text.');
    carol.socket.emit('typing');
    for (const page of [phone, desktop]) {
      await chatRow(page, 'Hello both, from the /chat page. <b>Tags</b> stay text.');
      await page.locator('#typing', { hasText: 'carol is typing…' }).waitFor(WAIT);
      await page.locator('#members li', { hasText: /^alice ×2$/ }).waitFor(WAIT);
      expect(await page.locator('#members li').allTextContents()).toEqual(['alice ×2', 'bob', 'carol']);
    }

    // Nothing sticks out sideways, and the message box and its button are on screen.
    expect(await phone.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(390);
    const send = await phone.locator('#composer button').boundingBox();
    expect(send).not.toBeNull();
    expect((send?.x ?? 0) + (send?.width ?? 0)).toBeLessThanOrEqual(390);
    expect((send?.y ?? 0) + (send?.height ?? 0)).toBeLessThanOrEqual(720);

    await phone.screenshot({ path: join(SCREENSHOTS, 'chat-page-phone.png') });
    await desktop.screenshot({ path: join(SCREENSHOTS, 'chat-page.png') });
  });
});

describeWithBrowser('rooms on the /chat page in Chromium', (browser) => {
  const openIn = async (url: string, fragment: string, name: string, viewport = { width: 900, height: 700 }) => {
    const page = await browser.open(`${url}/chat${fragment}`, { viewport, storage: { 'chat-bridge.name': name } });
    await page.locator('#status[data-state="connected"]').waitFor(WAIT);
    return page;
  };

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#text').fill(text);
    await page.locator('#text').press('Enter');
  }

  /**
   * Waits until the presence list reads exactly `names`, in this order. (Locators, not
   * waitForFunction: the page's CSP forbids the eval that polling a function needs.)
   */
  async function membersAre(page: Page, names: string[]): Promise<void> {
    const rows = page.locator('#members li');
    try {
      for (const [index, name] of names.entries()) {
        await rows.nth(index).filter({ hasText: new RegExp(`^${escapeRegExp(name)}$`) }).waitFor(WAIT);
      }
      await rows.nth(names.length).waitFor({ ...WAIT, state: 'detached' });
    } catch {
      // The rows as they are when a wait gives up say what went wrong.
    }
    expect(await rows.allTextContents()).toEqual(names);
  }
  const fragment = (page: Page) => page.evaluate<string>('window.location.hash');

  it('opened at /chat#room=alpha, chats in alpha: an alpha client gets its message, a lobby client does not', async () => {
    const server = await startTestServer();
    const inAlpha = await connectRaw(server.url, { name: 'alpha-reader' }, {}, { room: 'alpha' });
    const inLobby = await connectRaw(server.url, { name: 'lobby-reader' });
    expect(await inAlpha.messages.next()).toBe(JOIN);
    expect(await inLobby.messages.next()).toBe(JOIN);

    const page = await openIn(server.url, '#room=alpha', 'alice');
    expect(await page.locator('#room').inputValue()).toBe('alpha');
    expect(await page.locator('#room-label').textContent()).toBe('# alpha');
    await page.locator('#online', { hasText: /^2 online$/ }).waitFor(WAIT);
    expect(await inAlpha.messages.next()).toBe(JOIN);

    await say(page, 'hello alpha');
    expect(await inAlpha.messages.next()).toBe('hello alpha');
    // Had it leaked into the lobby, the lobby reader would have had it before this.
    inLobby.send('lobby marker');
    expect(await inLobby.messages.next()).toBe('lobby marker');
  });

  it('switches to another room from the room field: new fragment, no reload, messages go there', async () => {
    const server = await startTestServer();
    const inAlpha = await connectRaw(server.url, { name: 'alpha-reader' }, {}, { room: 'alpha' });
    const inBeta = await connectRaw(server.url, { name: 'beta-reader' }, {}, { room: 'beta' });
    expect(await inAlpha.messages.next()).toBe(JOIN);
    expect(await inBeta.messages.next()).toBe(JOIN);
    const page = await openIn(server.url, '#room=alpha', 'mover');
    expect(await inAlpha.messages.next()).toBe(JOIN);
    await say(page, 'said in alpha');
    await page.locator('#messages li.chat', { hasText: 'said in alpha' }).waitFor(WAIT);
    // A reload would lose this.
    await page.evaluate('window.notReloaded = true');

    await page.locator('#room').fill('beta');
    await page.locator('#room-form button').click();
    await page.waitForURL(/\/chat#room=beta$/, WAIT);
    await page.locator('#messages li.notice', { hasText: 'You joined as mover (2 online)' }).waitFor(WAIT);
    expect(await inAlpha.messages.next()).toBe('said in alpha');
    expect(await inAlpha.messages.next()).toBe(LEAVE);
    expect(await inBeta.messages.next()).toBe(JOIN);
    expect(await page.evaluate('window.notReloaded')).toBe(true);
    expect(await page.locator('#room-label').textContent()).toBe('# beta');
    // The other room's messages are not shown in this one.
    expect(await page.locator('#messages li.chat').count()).toBe(0);

    await say(page, 'said in beta');
    expect(await inBeta.messages.next()).toBe('said in beta');
    inAlpha.send('alpha marker');
    expect(await inAlpha.messages.next()).toBe('alpha marker');

    // Back is a room switch too: to alpha again, still without a reload.
    await page.goBack();
    await page.locator('#room-label', { hasText: /^# alpha$/ }).waitFor(WAIT);
    expect(await inAlpha.messages.next()).toBe(JOIN);
    expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it('lists who is here, with a count for a name on two connections, and keeps the list current', async () => {
    const server = await startTestServer();
    const bobOne = await connectSio(server.url, { room: 'gamma', auth: { name: 'bob' } });
    await connectSio(server.url, { room: 'gamma', auth: { name: 'bob' } });
    await bobOne.notices.take(2);

    const page = await openIn(server.url, '#room=gamma', 'alice');
    await membersAre(page, ['alice', 'bob ×2']);
    expect(await page.locator('#members li', { hasText: 'bob' }).locator('.connections').getAttribute('title')).toBe('2 connections');

    await connectRaw(server.url, { name: 'carol' }, {}, { room: 'gamma' });
    await membersAre(page, ['alice', 'bob ×2', 'carol']);
    bobOne.socket.disconnect();
    await membersAre(page, ['alice', 'bob', 'carol']);
    await page.locator('#online', { hasText: /^3 online$/ }).waitFor(WAIT);
  });

  it('with JWT, lists two users who show the same name as two rows, each with its user, and drops only the one who leaves', async () => {
    const key = await signingKey('HS256');
    const server = await startTestServer(key.env);
    const token = (sub: string, name: string) => signToken(key, { sub, name });
    await connectSio(server.url, { room: 'delta', auth: { token: await token('user-alice', 'alice') } });
    const impostor = await connectSio(server.url, { room: 'delta', auth: { token: await token('user-mallory', 'al\nice') } });

    const page = await openIn(server.url, `#room=delta&token=${await token('user-page', 'carol')}`, 'ignored');
    await membersAre(page, ['alice (user-alice)', 'alice (user-mallory)', 'carol']);
    expect(await page.locator('#members li.mine').allTextContents()).toEqual(['carol']);
    impostor.socket.disconnect();
    await membersAre(page, ['alice', 'carol']);
    expect(await page.locator('#members li', { hasText: 'alice' }).getAttribute('title')).toBe('user-alice');
  });

  it('shows the server\'s refusal when it has no room for another room', async () => {
    const server = await startTestServer({ MAX_ROOMS: '2' }); // the lobby, always open, and one room
    // Someone else stays in `first`: once the page leaves it, an empty `first` would make
    // way for `second` (the room empty longest goes), and whether it is empty when the
    // page asks for `second` would be a race.
    await connectSio(server.url, { room: 'first', auth: { name: 'stays' } });
    const page = await openIn(server.url, '#room=first', 'alice');
    await page.locator('#room').fill('second');
    await page.locator('#room').press('Enter');
    await page
      .locator('#room-problem', { hasText: /^Room second: the server refused the room: it has as many rooms open as it allows$/ })
      .waitFor(WAIT);
    expect(await page.locator('#status').getAttribute('data-state')).not.toBe('connected');
    expect(await fragment(page)).toBe('#room=second');
  });

  it('says so when a room name is malformed, in the URL or in the room field, and stays usable', async () => {
    const server = await startTestServer();
    const page = await openIn(server.url, '#room=Not%20A%20Room', 'alice');
    const problem = page.locator('#room-problem');
    expect(await problem.textContent()).toBe(
      '“Not A Room” is not a room name: use 1-64 of a-z 0-9 - _ . starting with a letter or a digit, never "..". You are in lobby.',
    );
    expect(await fragment(page)).toBe('#room=lobby');
    expect(await page.locator('#room').inputValue()).toBe('lobby');

    await page.locator('#room').fill('../admin');
    await page.locator('#room').press('Enter');
    await page.locator('#room-problem', { hasText: /^“\.\.\/admin” is not a room name: .* You are in lobby\.$/ }).waitFor(WAIT);
    expect(await page.locator('#room').getAttribute('aria-invalid')).toBe('true');
    expect(await fragment(page)).toBe('#room=lobby');

    const reader = await connectRaw(server.url, { name: 'reader' });
    expect(await reader.messages.next()).toBe(JOIN);
    await say(page, 'still in the lobby');
    expect(await reader.messages.next()).toBe('still in the lobby');
  });
});
