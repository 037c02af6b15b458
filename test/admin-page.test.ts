import type { Page, Request } from 'playwright-core';
import { messageRate, rateWords } from '../client/admin/rate';
import type { Ban, HistoryMessage, Kicked } from '../server/protocol';
import { API_TEST_KEY, callApi } from './support/api';
import { describeWithBrowser } from './support/browser';
import { startTestServer } from './support/server';
import { connectSio, type SioOptions, type SioTestClient } from './support/sio-client';

// Browser steps on a busy two-core machine: generous waits, never fixed sleeps.
jest.setTimeout(90_000);
const WAIT = { timeout: 15_000 };
const KEY_STORAGE = 'chat-bridge.admin-key';

const apiServer = () => startTestServer({ API_KEY: API_TEST_KEY });

/** A Socket.IO client named `name` in `room`. */
const join = (url: string, room: string, name: string, options: SioOptions = {}) => connectSio(url, { room, auth: { name }, ...options });

/** What the client gets when the server moves it out: `kicked`, then the disconnect. */
function movedOut(client: SioTestClient): Promise<{ kicked: Kicked; reason: string }> {
  const kicked = new Promise<Kicked>((resolve) => client.socket.once('kicked', resolve));
  const gone = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
  return Promise.all([kicked, gone]).then(([k, reason]) => ({ kicked: k, reason }));
}

/** The key the page keeps for its tab, if any. */
const keptKey = (page: Page) => page.evaluate(`sessionStorage.getItem(${JSON.stringify(KEY_STORAGE)})`);

const bansNow = async (url: string) => (await callApi<{ bans: Ban[] }>(url, 'GET', '/api/bans')).body.bans;

describeWithBrowser('the /admin page in Chromium', (browser) => {
  /** Opens /admin with the key in the fragment, as a link from an operator's notes would. */
  async function openAdmin(url: string, viewport = { width: 1100, height: 800 }): Promise<Page> {
    const page = await browser.open(`${url}/admin#key=${encodeURIComponent(API_TEST_KEY)}`, { viewport });
    await page.locator('#status[data-state="ok"]').waitFor(WAIT);
    return page;
  }

  const card = (page: Page, room: string) => page.locator(`#rooms li.room-card[data-room="${room}"]`);
  const memberRow = (page: Page, room: string, user: string) => card(page, room).locator(`li.member[data-user="${user}"]`);
  const banRow = (page: Page, kind: string, whom: string) => page.locator(`#bans tr[data-kind="${kind}"]`, { has: page.locator('.ban-target', { hasText: whom }) });

  it('logs in from the fragment, sees a member, kicks them with the reason, and sees them go', async () => {
    const server = await apiServer();
    const ann = await join(server.url, 'den', 'ann');
    const troll = await join(server.url, 'den', 'troll');
    const page = await openAdmin(server.url);
    const requests: Request[] = [];
    page.on('request', (request) => requests.push(request));

    // The key left the address bar at once and is kept for the tab only.
    expect(page.url()).toBe(`${server.url}/admin`);
    expect(await keptKey(page)).toBe(API_TEST_KEY);

    await memberRow(page, 'den', 'troll').waitFor(WAIT);
    await memberRow(page, 'den', 'ann').waitFor(WAIT);
    await card(page, 'den').locator('.online', { hasText: /^2 online$/ }).waitFor(WAIT);

    const out = movedOut(troll);
    await page.locator('#reason').fill('spamming links');
    await page.getByRole('button', { name: 'Kick troll from den', exact: true }).click();
    expect(await out).toEqual({ kicked: { room: 'den', reason: 'spamming links' }, reason: 'io server disconnect' });
    await page.locator('#notice', { hasText: 'Kicked troll from den.' }).waitFor(WAIT);
    await memberRow(page, 'den', 'troll').waitFor({ state: 'detached', ...WAIT });
    await card(page, 'den').locator('.online', { hasText: /^1 online$/ }).waitFor(WAIT);
    expect(await memberRow(page, 'den', 'ann').count()).toBe(1);
    expect(ann.socket.connected).toBe(true);

    // Every API request carried the key in its header, none in its URL.
    const api = requests.filter((request) => new URL(request.url()).pathname.startsWith('/api/'));
    expect(api.length).toBeGreaterThan(0);
    for (const request of api) {
      expect(request.url()).not.toContain(API_TEST_KEY);
      expect(await request.headerValue('authorization')).toBe(`Bearer ${API_TEST_KEY}`);
    }
  });

  it('mutes a member from their row and lifts it; bans them everywhere from it, which ends them, and lifts that', async () => {
    const server = await apiServer();
    const troll = await join(server.url, 'den', 'troll');
    const page = await openAdmin(server.url);
    await memberRow(page, 'den', 'troll').waitFor(WAIT);

    // A mute in that room, for the hour chosen by default: listed, shown on the member, in force.
    await page.getByRole('button', { name: 'Mute troll', exact: true }).click();
    const mute = banRow(page, 'mute', 'user troll');
    await mute.waitFor(WAIT);
    expect(await mute.locator('.ban-room').textContent()).toBe('den');
    await memberRow(page, 'den', 'troll').locator('.standing', { hasText: 'muted' }).waitFor(WAIT);
    const [muted] = await bansNow(server.url);
    expect(muted).toMatchObject({ kind: 'mute', user: 'troll', room: 'den', by: 'api' });
    expect(muted?.until).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(await troll.chat('still here?')).toEqual({ ok: false, error: 'muted' });

    await page.getByRole('button', { name: 'Lift the mute of user troll in den', exact: true }).click();
    await mute.waitFor({ state: 'detached', ...WAIT });
    await page.locator('#no-bans').waitFor(WAIT);
    expect(await bansNow(server.url)).toEqual([]);
    expect(await troll.chat('free again')).toMatchObject({ ok: true });

    // A ban in every room, until lifted: the member's connection ends at once.
    await page.locator('#scope').selectOption('all');
    await page.locator('#duration').selectOption('');
    const out = movedOut(troll);
    await page.getByRole('button', { name: 'Ban troll', exact: true }).click();
    expect((await out).kicked).toEqual({ room: 'den', reason: 'banned' });
    const ban = banRow(page, 'ban', 'user troll');
    await ban.waitFor(WAIT);
    expect(await ban.locator('.ban-room').textContent()).toBe('every room');
    expect(await ban.locator('.ban-until').textContent()).toBe('for good');
    await memberRow(page, 'den', 'troll').waitFor({ state: 'detached', ...WAIT });
    await expect(join(server.url, 'elsewhere', 'troll')).rejects.toThrow('banned');

    await page.getByRole('button', { name: 'Lift the ban of user troll', exact: true }).click();
    await ban.waitFor({ state: 'detached', ...WAIT });
    expect(await bansNow(server.url)).toEqual([]);
    await join(server.url, 'den', 'troll');
    await memberRow(page, 'den', 'troll').waitFor(WAIT);
  });

  it('bans an address through the form, and lifts it, on a phone screen', async () => {
    const server = await apiServer();
    const page = await openAdmin(server.url, { width: 390, height: 800 });

    // Nothing to ban: said by the form, nothing sent.
    await page.locator('#ban-by').selectOption('ip');
    await page.locator('#ban-form button[type="submit"]').click();
    await page.locator('#ban-problem', { hasText: 'Type the address to ban' }).waitFor(WAIT);
    // A malformed address: the server's refusal, in words.
    await page.locator('#ban-target').fill('not-an-address');
    await page.locator('#ban-form button[type="submit"]').click();
    await page.locator('#problem', { hasText: /^Ban address not-an-address: / }).waitFor(WAIT);
    expect(await bansNow(server.url)).toEqual([]);

    await page.locator('#ban-target').fill('127.0.0.2');
    await page.locator('#ban-room').fill('den');
    await page.locator('#ban-reason').fill('flooding');
    await page.locator('#ban-form button[type="submit"]').click();
    const row = banRow(page, 'ban', 'address 127.0.0.2');
    await row.waitFor(WAIT);
    expect(await row.locator('.ban-reason').textContent()).toBe('flooding');
    expect(await bansNow(server.url)).toMatchObject([{ kind: 'ban', ip: '127.0.0.2', room: 'den', until: null, reason: 'flooding' }]);
    expect(await page.locator('#problem').isHidden()).toBe(true);
    // The table scrolls sideways in its own box; the page does not.
    expect(await page.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(390);

    await expect(join(server.url, 'den', 'from-two', { localAddress: '127.0.0.2' })).rejects.toThrow('banned');
    // Another address, and the same address in another room, are let in.
    await join(server.url, 'den', 'from-one', { localAddress: '127.0.0.1' });
    await join(server.url, 'lobby', 'from-two', { localAddress: '127.0.0.2' });

    await page.getByRole('button', { name: 'Lift the ban of address 127.0.0.2 in den', exact: true }).click();
    await row.waitFor({ state: 'detached', ...WAIT });
    await join(server.url, 'den', 'from-two', { localAddress: '127.0.0.2' });
  });

  it("shows a room's message rate and recent messages, and deletes one: the room's clients get `delete`", async () => {
    const server = await apiServer();
    const ann = await join(server.url, 'den', 'ann');
    const troll = await join(server.url, 'den', 'troll');
    const ids: string[] = [];
    for (const text of ['hello', 'buy cheap watches <b>now</b>', 'ok']) {
      const ack = await troll.chat(text);
      if (!ack.ok) throw new Error(`not posted: ${ack.error}`);
      ids.push(ack.id);
    }
    const spam = ids[1] as string;
    const page = await openAdmin(server.url);
    await card(page, 'den').locator('.rate', { hasText: /^3 messages in the last minute$/ }).waitFor(WAIT);

    await card(page, 'den').locator('summary', { hasText: 'Recent messages' }).click();
    const row = card(page, 'den').locator(`li.message[data-id="${spam}"]`);
    await row.waitFor(WAIT);
    // Text as text: the tags are shown, not made.
    expect(await row.locator('.text').textContent()).toBe('buy cheap watches <b>now</b>');
    expect(await card(page, 'den').locator('.messages b').count()).toBe(0);
    // Newest first.
    expect(await card(page, 'den').locator('li.message').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))).toEqual([...ids].reverse());

    const deleted = new Promise((resolve) => ann.socket.once('delete', resolve));
    await row.getByRole('button', { name: /^Delete the message from troll/ }).click();
    expect(await deleted).toEqual({ id: spam });
    await card(page, 'den').locator(`li.message.deleted[data-id="${spam}"]`).waitFor(WAIT);
    await page.locator('#notice', { hasText: 'Deleted the message from den.' }).waitFor(WAIT);
    const history = await callApi<{ messages: unknown[] }>(server.url, 'GET', '/api/rooms/den/messages');
    expect(history.body.messages).toContainEqual({ id: spam, at: expect.any(Number), deleted: true });
    // A deleted message was still sent: the rate counts it.
    expect(await card(page, 'den').locator('.rate').textContent()).toBe('3 messages in the last minute');
  });

  it('asks for the key without one, refuses a wrong one, keeps a right one for the tab, and shows names as text', async () => {
    const server = await apiServer();
    // Within a name's 32 characters.
    const attack = '<img src=x onerror=alert(1)>';
    await join(server.url, 'lobby', attack);
    const page = await browser.open(`${server.url}/admin`);
    await page.locator('#login').waitFor(WAIT);
    expect(await page.locator('#console').isHidden()).toBe(true);

    await page.locator('#key').fill('not-the-key');
    await page.locator('#key').press('Enter');
    await page.locator('#login-problem', { hasText: 'The server refused this API key.' }).waitFor(WAIT);
    expect(await keptKey(page)).toBeNull();

    await page.locator('#key').fill(API_TEST_KEY);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    const row = card(page, 'lobby').locator('li.member');
    await row.waitFor(WAIT);
    expect(await row.locator('.member-name').textContent()).toBe(attack);
    expect(await page.locator('#rooms img').count()).toBe(0);

    await page.reload();
    await card(page, 'lobby').locator('li.member').waitFor(WAIT);

    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.locator('#login').waitFor(WAIT);
    expect(await page.locator('#rooms li').count()).toBe(0);
    expect(await keptKey(page)).toBeNull();
  });
});

describe('GET /admin', () => {
  it('is served with its own Content-Security-Policy, its stylesheet and its script', async () => {
    const server = await apiServer();
    const res = await fetch(`${server.url}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await res.text()).not.toMatch(/<script>|<style|style=/);
    for (const [path, type] of [['/admin/admin.css', 'text/css'], ['/admin/js/client/admin/admin.js', 'javascript']]) {
      const file = await fetch(`${server.url}${path}`);
      expect([path, file.status, file.headers.get('content-type')]).toEqual([path, 200, expect.stringContaining(type)]);
    }
  });
});

describe("the admin page's message rate", () => {
  const now = 1_800_000_000_000;
  const sent = (agoMs: number): HistoryMessage => ({ id: `${now - agoMs}-0`, at: now - agoMs, name: 'a', text: 't' });

  it('counts the messages stamped in the last minute, tombstones too, and says "at least" when every one read is in it', () => {
    const tombstone: HistoryMessage = { id: `${now - 1_000}-0`, at: now - 1_000, deleted: true };
    expect(messageRate([sent(61_000), sent(59_000), tombstone], true, now)).toEqual({ count: 2, atLeast: false });
    expect(messageRate([sent(30_000), sent(10_000)], true, now)).toEqual({ count: 2, atLeast: true });
    expect(messageRate([sent(30_000), sent(10_000)], false, now)).toEqual({ count: 2, atLeast: false });
    expect(messageRate([], false, now)).toEqual({ count: 0, atLeast: false });
    expect(rateWords({ count: 1, atLeast: false })).toBe('1 message in the last minute');
    expect(rateWords({ count: 100, atLeast: true })).toBe('100+ messages in the last minute');
  });
});
