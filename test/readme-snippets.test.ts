import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unusedPort } from '../tools/ports';
import { TSX_NODE_FLAGS } from '../tools/tsx';
import { describeWithBrowser } from './support/browser';
import { Output } from './support/cli';
import { EventQueue } from './support/event-queue';
import { connectRaw } from './support/raw-client';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';

// The README's snippets, run as written: only the port is changed, to the test server's.
jest.setTimeout(60_000);

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The code blocks in `lang` of the README section under `heading`. */
function codeBlocks(heading: string, lang: string): string[] {
  const start = README.indexOf(`\n## ${heading}`);
  if (start === -1) throw new Error(`README.md has no section "## ${heading}"`);
  const end = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1] ?? '');
}

function onPort(code: string, port: number): string {
  if (!code.includes('localhost:8000')) throw new Error(`the snippet no longer mentions localhost:8000:\n${code}`);
  return code.replaceAll('localhost:8000', `localhost:${port}`);
}

describeWithBrowser('the README console snippet in Chromium', (browser) => {
  it('on /, logs the join notice and then its own message, which the whole room gets', async () => {
    const [open, send, ...rest] = codeBlocks('Chat from a browser console', 'js');
    expect(rest).toEqual([]);
    const server = await startTestServer();
    const bystander = await connectRaw(server.url);
    await bystander.messages.next();

    // localhost, as in the README: the page and the socket must have the same origin.
    const page = await browser.open(`http://localhost:${server.port}/`);
    expect(await page.locator('body').textContent()).toBe('Hello, This is a WebSocket tester!');
    const logs = new EventQueue<string>('console.log');
    page.on('console', (message) => {
      if (message.type() === 'log') logs.push(message.text());
    });

    await page.evaluate(onPort(open ?? '', server.port));
    expect(await logs.next(15_000)).toBe('Client: WS is opening');
    expect(await logs.next(15_000)).toBe(`Client: WS is getting data: ${JOIN}`);

    await page.evaluate(send ?? '');
    expect(await logs.next(15_000)).toBe("Client: WS is getting data: Client: I'm sending data!");
    expect(await bystander.messages.take(2)).toEqual([JOIN, "Client: I'm sending data!"]);
  });
});

describe('the README Node snippet', () => {
  it('connects with connectChat, sees the room, chats and gets its ack', async () => {
    const [code, ...rest] = codeBlocks('Chat from a Node script (Socket.IO)', 'ts');
    expect(rest).toEqual([]);
    const server = await startTestServer();
    const friend = await connectSio(server.url, { auth: { name: 'friend' } });
    await friend.chat('hi bot');

    // Saved outside the repository, so the import of ./client/connect is made absolute.
    const dir = mkdtempSync(join(tmpdir(), 'readme-snippet-'));
    const file = join(dir, 'hello.ts');
    writeFileSync(file, onPort(code ?? '', server.port).replace("'./client/connect'", JSON.stringify(join(ROOT, 'client', 'connect'))));
    const child = spawn(process.execPath, [...TSX_NODE_FLAGS, file], { cwd: ROOT });
    const stdout = new Output('node snippet stdout');
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
    try {
      await stdout.until(/^1 earlier messages$/m);
      await stdout.until(/^\* bot joined \(2 online\)$/m);
      await stdout.until(/^<bot> hello from Node$/m);
      await stdout.until(/\{ ok: true, id: '\d+-\d+' \}/);
      expect(await friend.typings.next(15_000)).toEqual({ name: 'bot' });
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the README webhook receiver', () => {
  it('verifies each batch and prints its events, one line each', async () => {
    const [receiver] = codeBlocks('Webhooks and the publish hook', 'js');
    expect(receiver).toContain('.listen(9000,');
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const port = await unusedPort();
    const dir = mkdtempSync(join(tmpdir(), 'readme-receiver-'));
    const file = join(dir, 'receiver.js');
    writeFileSync(file, (receiver ?? '').replace('.listen(9000,', `.listen(${port},`));
    const child = spawn(process.execPath, [file], { env: { PATH: process.env.PATH ?? '', WEBHOOK_SECRET: secret, NODE_PATH: join(ROOT, 'node_modules') } });
    const stdout = new Output('receiver stdout');
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
    try {
      const server = await startTestServer({ WEBHOOK_URL: `http://127.0.0.1:${port}/`, WEBHOOK_SECRET: secret });
      const ann = await connectRaw(server.url, { name: 'ann' });
      ann.send('hello, backend');
      await stdout.until(/^room\.occupied lobby \{\}$/m);
      await stdout.until(/^member\.joined lobby \{"name":"ann"\}$/m);
      await stdout.until(/^message\.created lobby \{"id":"\d+-\d+","text":"hello, backend","name":"ann","at":\d+\}$/m);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
