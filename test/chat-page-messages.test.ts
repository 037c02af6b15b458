import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import type { ChatAck, MessageDelete, MessageEdit, ReactAck, Reaction, ReadAck, ReadMarker } from '../server/protocol';
import { API_TEST_KEY, postMessage } from './support/api';
import { describeWithBrowser } from './support/browser';
import { EventQueue } from './support/event-queue';
import { escapeRegExp } from './support/regexp';
import { startTestServer } from './support/server';
import { connectSio, type SioTestClient } from './support/sio-client';

// Browser steps on a busy two-core machine: generous waits, never fixed sleeps.
jest.setTimeout(90_000);
const WAIT = { timeout: 15_000 };

const SCREENSHOTS = join(__dirname, '..', 'test-output');

type Transport = 'socket.io' | 'raw';

/** What a Socket.IO client sees of the room's changes, one queue per event. */
function changesSeenBy(client: SioTestClient, label: string) {
  const seen = {
    edits: new EventQueue<MessageEdit>(`${label} edit`),
    deletes: new EventQueue<MessageDelete>(`${label} delete`),
    reactions: new EventQueue<Reaction>(`${label} reaction`),
    reads: new EventQueue<ReadMarker>(`${label} read`),
  };
  client.socket.on('edit', (edit) => seen.edits.push(edit));
  client.socket.on('delete', (deleted) => seen.deletes.push(deleted));
  client.socket.on('reaction', (reaction) => seen.reactions.push(reaction));
  client.socket.on('read', (marker) => seen.reads.push(marker));
  return seen;
}

/** A Socket.IO request and its ack. */
const ask = <A>(emit: (ack: (answer: A) => void) => void) => new Promise<A>(emit);

function idOf(ack: ChatAck): string {
  if (!ack.ok) throw new Error(`the server refused the message: ${ack.error}`);
  return ack.id;
}

describeWithBrowser('messages people can fix, on the /chat page in Chromium', (browser) => {
  async function openChat(url: string, name: string, transport: Transport = 'socket.io', fragment = '', viewport = { width: 900, height: 700 }) {
    const page = await browser.open(`${url}/chat${fragment}`, {
      viewport,
      storage: { 'chat-bridge.name': name, 'chat-bridge.transport': transport },
    });
    await page.locator('#messages li.notice', { hasText: `You joined as ${name}` }).waitFor(WAIT);
    return page;
  }

  /** The chat row on `page` with exactly this text, once it is there. */
  async function chatRow(page: Page, text: string): Promise<Locator> {
    const exactly = new RegExp(`^${escapeRegExp(text)}$`);
    const row = page.locator('#messages li.chat').filter({ has: page.locator('.text', { hasText: exactly }) }).last();
    await row.waitFor(WAIT);
    return row;
  }

  const rowOf = (page: Page, id: string) => page.locator(`#messages li[data-id="${id}"]`);

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#text').fill(text);
    await page.locator('#text').press('Enter');
  }

  /** Opens a message's `⋯` menu. */
  async function menuOf(row: Locator): Promise<Locator> {
    await row.hover();
    await row.locator('.row-actions').click();
    const menu = row.locator('.message-menu');
    await menu.waitFor(WAIT);
    return menu;
  }

  const chatTexts = (page: Page) => page.locator('#messages li.chat .text').allTextContents();

  it('edits and deletes the page\'s own message in place, live for a Socket.IO client and a raw page, and in a later visitor\'s history', async () => {
    const server = await startTestServer();
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const bobSees = changesSeenBy(bob, 'bob');
    const alice = await openChat(server.url, 'alice');
    const carol = await openChat(server.url, 'carol', 'raw');

    await say(alice, 'helo world');
    const typo = await bob.chats.next();
    expect(typo).toMatchObject({ name: 'alice', text: 'helo world' });
    const fromBob = idOf(await bob.chat('not yours to edit'));
    expect(await bob.chats.next()).toMatchObject({ id: fromBob });

    // Someone else's message offers reactions only; one's own offers Edit and Delete too.
    const theirs = await menuOf(await chatRow(alice, 'not yours to edit'));
    expect(await theirs.locator('.quick').count()).toBe(5);
    expect(await theirs.locator('.menu-item').count()).toBe(0);
    await theirs.locator('.quick').first().press('Escape');
    await theirs.waitFor({ ...WAIT, state: 'detached' });
    expect(await (await menuOf(await chatRow(carol, 'helo world'))).locator('.menu-item').count()).toBe(0);

    const row = await chatRow(alice, 'helo world');
    await (await menuOf(row)).getByRole('button', { name: 'Edit' }).click();
    const box = rowOf(alice, typo.id).locator('textarea.edit-box');
    expect(await box.inputValue()).toBe('helo world');
    await box.fill('hello world');
    await box.press('Enter');
    expect(await bobSees.edits.next()).toEqual({ id: typo.id, text: 'hello world', version: 1, editedAt: expect.any(Number) });
    await box.waitFor({ ...WAIT, state: 'detached' });
    for (const page of [alice, carol]) {
      const edited = await chatRow(page, 'hello world');
      expect(await edited.getAttribute('data-id')).toBe(typo.id);
      expect(await edited.locator('.edited').textContent()).toBe('(edited)');
      expect(await edited.locator('.edited').getAttribute('title')).toMatch(/^edited /);
    }

    // Escape puts the text back and sends nothing.
    await (await menuOf(rowOf(alice, typo.id))).getByRole('button', { name: 'Edit' }).click();
    await box.fill('never sent');
    await box.press('Escape');
    await box.waitFor({ ...WAIT, state: 'detached' });
    expect(await rowOf(alice, typo.id).locator('.text').textContent()).toBe('hello world');

    await say(alice, 'oops, wrong room');
    const oops = await bob.chats.next();
    expect(oops).toMatchObject({ name: 'alice', text: 'oops, wrong room' });
    await (await menuOf(await chatRow(alice, 'oops, wrong room'))).getByRole('button', { name: 'Delete' }).click();
    expect(await bobSees.deletes.next()).toEqual({ id: oops.id });
    // Had Escape sent an edit, it would have reached bob before the delete.
    expect(bobSees.edits.pending).toEqual([]);
    for (const page of [alice, carol]) {
      await rowOf(page, oops.id).locator('.tombstone', { hasText: /^message deleted · / }).waitFor(WAIT);
      expect(await page.locator('#messages', { hasText: 'oops, wrong room' }).count()).toBe(0);
    }

    // A later visitor's history has the edit and the tombstone, in their places.
    const dave = await openChat(server.url, 'dave');
    expect(await (await chatRow(dave, 'hello world')).locator('.edited').textContent()).toBe('(edited)');
    await rowOf(dave, oops.id).locator('.tombstone', { hasText: 'message deleted' }).waitFor(WAIT);
    const order = await dave.locator('#messages li.chat').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-id')));
    expect(order).toEqual([typo.id, fromBob, oops.id]);
    expect(await dave.locator('#messages', { hasText: 'oops, wrong room' }).count()).toBe(0);
  });

  it('shows reactions as chips under a message, live both ways, and a chip toggles the page\'s own reaction', async () => {
    const server = await startTestServer();
    mkdirSync(SCREENSHOTS, { recursive: true });
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const bobSees = changesSeenBy(bob, 'bob');
    const alice = await openChat(server.url, 'alice');
    const carol = await openChat(server.url, 'carol', 'raw');
    const id = idOf(await bob.chat('Lunch at noon?'));
    const chip = (page: Page, text: string) => rowOf(page, id).locator('.chip', { hasText: new RegExp(`^${escapeRegExp(text)}$`) });

    await (await menuOf(await chatRow(alice, 'Lunch at noon?'))).getByRole('button', { name: 'React with 👍' }).click();
    expect(await bobSees.reactions.next()).toEqual({ id, emoji: '👍', count: 1 });
    await chip(alice, '👍 1').waitFor(WAIT);
    expect(await chip(alice, '👍 1').getAttribute('aria-pressed')).toBe('true');
    await chip(carol, '👍 1').waitFor(WAIT);
    expect(await chip(carol, '👍 1').getAttribute('aria-pressed')).toBe('false');

    expect(await ask<ReactAck>((ack) => bob.socket.emit('react', { id, emoji: '👍', on: true }, ack))).toEqual({ ok: true, count: 2 });
    expect(await ask<ReactAck>((ack) => bob.socket.emit('react', { id, emoji: '🎉', on: true }, ack))).toEqual({ ok: true, count: 1 });
    for (const page of [alice, carol]) {
      await chip(page, '🎉 1').waitFor(WAIT);
      await chip(page, '👍 2').waitFor(WAIT);
      expect(await rowOf(page, id).locator('.chip').allTextContents()).toEqual(['👍 2', '🎉 1']);
    }
    expect(await bobSees.reactions.take(2)).toEqual([
      { id, emoji: '👍', count: 2 },
      { id, emoji: '🎉', count: 1 },
    ]);

    // Alice's own 👍 toggles off; carol's click on 🎉, which is not hers yet, turns hers on.
    await chip(alice, '👍 2').click();
    expect(await bobSees.reactions.next()).toEqual({ id, emoji: '👍', count: 1 });
    await chip(alice, '👍 1').waitFor(WAIT);
    expect(await chip(alice, '👍 1').getAttribute('aria-pressed')).toBe('false');
    await chip(carol, '🎉 1').click();
    expect(await bobSees.reactions.next()).toEqual({ id, emoji: '🎉', count: 2 });
    await chip(alice, '🎉 2').waitFor(WAIT);
    expect(await chip(carol, '🎉 2').getAttribute('aria-pressed')).toBe('true');

    // The last one taken back: its chip goes.
    expect(await ask<ReactAck>((ack) => bob.socket.emit('react', { id, emoji: '👍', on: false }, ack))).toEqual({ ok: true, count: 0 });
    await chip(alice, '👍 1').waitFor({ ...WAIT, state: 'detached' });
    expect(await rowOf(alice, id).locator('.chip').allTextContents()).toEqual(['🎉 2']);

    await say(alice, 'Yes! 🎉');
    await menuOf(await chatRow(alice, 'Yes! 🎉'));
    await alice.screenshot({ path: join(SCREENSHOTS, 'chat-page-messages.png') });
  });

  it('loads older messages with the button and at the top, keeping the reader\'s place, until all 120 are shown in order', async () => {
    // A short recent history (HISTORY_SIZE) leaves the list too short to scroll: the button is there for that.
    const server = await startTestServer({ API_KEY: API_TEST_KEY, HISTORY_SIZE: '5' });
    for (let i = 1; i <= 120; i += 1) {
      expect((await postMessage(server.url, 'archive', { text: `old ${i}`, name: 'archivist' })).status).toBe(201);
    }
    const page = await openChat(server.url, 'reader', 'socket.io', '#room=archive', { width: 600, height: 800 });
    const log = page.locator('#log');
    const button = page.locator('#load-older');
    const texts = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `old ${from + i}`);
    const topOf = async (text: string) => (await (await chatRow(page, text)).boundingBox())?.y ?? Number.NaN;
    await chatRow(page, 'old 120');
    expect(await chatTexts(page)).toEqual(texts(116, 120));
    expect(await log.evaluate((el) => el.scrollHeight - el.clientHeight)).toBe(0);

    // The button: the next page goes in above. What the reader saw stays in view: here,
    // where the list was shorter than its box, at the bottom of it.
    await button.click();
    await chatRow(page, 'old 66');
    expect(await chatTexts(page)).toEqual(texts(66, 120));
    expect(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThanOrEqual(1);

    // Scrolled to the top: the next page, by itself, and what was at the top stays where it was.
    const scrolledBy = await log.evaluate((el) => el.scrollTop);
    expect(scrolledBy).toBeGreaterThan(0);
    const shown = await topOf('old 66');
    await log.evaluate((el) => el.scrollTo({ top: 0 }));
    await chatRow(page, 'old 16');
    expect(await chatTexts(page)).toEqual(texts(16, 120));
    expect(Math.abs((await topOf('old 66')) - (shown + scrolledBy))).toBeLessThanOrEqual(2);

    // The last page: nothing older, so the button goes.
    await log.evaluate((el) => el.scrollTo({ top: 0 }));
    await chatRow(page, 'old 1');
    await button.waitFor({ ...WAIT, state: 'hidden' });
    expect(await chatTexts(page)).toEqual(texts(1, 120));
  });

  it('marks what the page has read, and shows "seen by" under each other reader\'s newest read message', async () => {
    const server = await startTestServer();
    const bob = await connectSio(server.url, { auth: { name: 'bob' } });
    const carol = await connectSio(server.url, { auth: { name: 'carol' } });
    const bobSees = changesSeenBy(bob, 'bob');
    const alice = await openChat(server.url, 'alice');
    const first = idOf(await bob.chat('first'));
    const second = idOf(await bob.chat('second'));
    await chatRow(alice, 'second');

    // The page, at the bottom and visible, marks the newest message read (maybe the first on the way).
    let marker = await bobSees.reads.next(WAIT.timeout);
    if (marker.id === first) marker = await bobSees.reads.next(WAIT.timeout);
    expect(marker).toEqual({ name: 'alice', id: second });

    const seenBy = (id: string) => rowOf(alice, id).locator('.seen-by');
    expect(await ask<ReadAck>((ack) => bob.socket.emit('read', { id: first }, ack))).toEqual({ ok: true });
    await seenBy(first).filter({ hasText: /^seen by bob$/ }).waitFor(WAIT);
    expect(await ask<ReadAck>((ack) => carol.socket.emit('read', { id: second }, ack))).toEqual({ ok: true });
    await seenBy(second).filter({ hasText: /^seen by carol$/ }).waitFor(WAIT);

    // Bob reads on: his name moves to the later message. Alice's own marker is not shown to her.
    expect(await ask<ReadAck>((ack) => bob.socket.emit('read', { id: second }, ack))).toEqual({ ok: true });
    await seenBy(second).filter({ hasText: /^seen by bob, carol$/ }).waitFor(WAIT);
    await seenBy(first).waitFor({ ...WAIT, state: 'detached' });
  });

  it('lists the reader\'s rooms with their unread counts on joining a room, and switches room from there', async () => {
    const server = await startTestServer({ API_KEY: API_TEST_KEY });
    const watcher = await connectSio(server.url, { room: 'alpha', auth: { name: 'watcher' } });
    const watcherSees = changesSeenBy(watcher, 'watcher');
    // Over the raw endpoint (JSON mode): read markers and the unread counts go as request frames.
    const ann = await openChat(server.url, 'ann', 'raw', '#room=alpha');
    const rooms = ann.locator('#rooms li');

    const { body } = await postMessage(server.url, 'alpha', { text: 'alpha 1' });
    await chatRow(ann, 'alpha 1');
    expect(await watcherSees.reads.next(WAIT.timeout)).toEqual({ name: 'ann', id: body.id });

    await ann.locator('#room').fill('beta');
    await ann.locator('#room').press('Enter');
    await ann.waitForURL(/#room=beta$/, WAIT);
    await ann.locator('#messages li.notice', { hasText: 'You joined as ann' }).waitFor(WAIT);
    await rooms.filter({ hasText: /^alpha$/ }).waitFor(WAIT);
    expect(await rooms.allTextContents()).toEqual(['alpha']);
    // An empty room has nothing older to load.
    await ann.locator('#load-older').waitFor({ ...WAIT, state: 'hidden' });

    for (const text of ['alpha 2', 'alpha 3', 'alpha 4']) await postMessage(server.url, 'alpha', { text });
    await ann.locator('#room').fill('gamma');
    await ann.locator('#room').press('Enter');
    await rooms.filter({ hasText: /^alpha \(3\)$/ }).waitFor(WAIT);
    expect(await rooms.allTextContents()).toEqual(['alpha (3)']);
    expect(await rooms.locator('a').getAttribute('title')).toBe('3 unread');

    await ann.getByRole('link', { name: 'alpha (3)' }).click();
    await ann.waitForURL(/#room=alpha$/, WAIT);
    await ann.locator('#room-label', { hasText: /^# alpha$/ }).waitFor(WAIT);
    await rooms.filter({ hasText: /^alpha$/ }).locator('a[aria-current="page"]').waitFor(WAIT);
    // The raw endpoint sends no history: the page asks for the newest page itself.
    await chatRow(ann, 'alpha 4');
    expect(await chatTexts(ann)).toEqual(['alpha 1', 'alpha 2', 'alpha 3', 'alpha 4']);
  });
});
