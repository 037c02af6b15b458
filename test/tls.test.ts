import { chmodSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { get as httpsGet } from 'node:https';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { ConfigError, loadConfig } from '../server/config';
import { HELLO_TEXT } from '../server/protocol';
import { describeWithBrowser } from './support/browser';
import { connectRaw } from './support/raw-client';
import { JOIN } from './support/seed-strings';
import { startTestServer } from './support/server';
import { connectSio } from './support/sio-client';
import { runMain, spawnServer } from './support/spawn-server';
import { describeWithCertificate } from './support/tls-cert';

jest.setTimeout(60_000);

/** GET over https trusting only `ca`: status and body. */
function getText(url: string, ca: Buffer): Promise<{ status: number; body: string; encrypted: boolean }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (res) => {
      const encrypted = (res.socket as { encrypted?: boolean }).encrypted === true;
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, encrypted }));
    }).on('error', reject);
  });
}

/** A Config error from loadConfig, as its list of problems. */
function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('loadConfig accepted it');
}

describeWithCertificate('TLS (TLS_CERT, TLS_KEY)', (cert) => {
  const tlsEnv = { TLS_CERT: cert.certFile, TLS_KEY: cert.keyFile };
  const ca = cert.cert;

  describe('serving', () => {
    it('serves the pages over https at an https:// url', async () => {
      const server = await startTestServer(tlsEnv);
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const hello = await getText(`${server.url}/`, ca);
      expect(hello.status).toBe(200);
      expect(hello.body).toContain(HELLO_TEXT);
      expect(hello.encrypted).toBe(true);
      const page = await getText(`${server.url}/chat`, ca);
      expect(page.status).toBe(200);
      expect(page.body).toContain('<html');
      expect((await getText(`${server.url}/healthz`, ca)).body).toBe('ok\n');
      expect((await getText(`${server.url}/metrics`, ca)).status).toBe(200);
    });

    it('names the wss:// url on a plain GET of /socket', async () => {
      const server = await startTestServer(tlsEnv);
      const res = await getText(`${server.url}/socket/ops`, ca);
      expect(res.status).toBe(426);
      expect(res.body).toBe(
        `/socket/ops is a WebSocket endpoint: connect with a WebSocket client, e.g. new WebSocket("${server.url.replace('https', 'wss')}/socket/ops")\n`,
      );
    });

    it('lets a raw wss:// client chat, with its join notice', async () => {
      const server = await startTestServer(tlsEnv);
      const alice = await connectRaw(server.url, { name: 'alice' }, {}, { ca });
      expect(alice.ws.url).toMatch(/^wss:\/\//);
      expect(await alice.messages.next()).toBe(JOIN);
      const bob = await connectRaw(server.url, { name: 'bob' }, {}, { ca });
      expect(await bob.messages.next()).toBe(JOIN);
      expect(await alice.messages.next()).toBe(JOIN);
      alice.send('over wss');
      expect(await bob.messages.next()).toBe('over wss');
      expect(await alice.messages.next()).toBe('over wss');
    });

    it.each([['websocket'], ['polling']] as const)('lets Socket.IO clients chat over https (%s) with raw clients, both ways', async (transport) => {
      const server = await startTestServer(tlsEnv);
      const raw = await connectRaw(server.url, { name: 'raw' }, {}, { ca });
      expect(await raw.messages.next()).toBe(JOIN);
      const sio = await connectSio(server.url, { auth: { name: 'sio' }, transports: [transport], ca: ca.toString() });
      expect(sio.socket.io.engine.transport.name).toBe(transport);
      expect(await raw.messages.next()).toBe(JOIN);

      const ack = await sio.chat(`from socket.io (${transport})`);
      if (!ack.ok) throw new Error(`chat refused: ${ack.error}`);
      expect(await raw.messages.next()).toBe(`from socket.io (${transport})`);
      expect((await sio.chats.next()).text).toBe(`from socket.io (${transport})`);

      raw.send('from raw');
      expect(await sio.chats.next()).toMatchObject({ name: 'raw', text: 'from raw' });
      expect(await raw.messages.next()).toBe('from raw');
    });

    it('refuses a client that does not trust the certificate', async () => {
      const server = await startTestServer(tlsEnv);
      await expect(connectRaw(server.url)).rejects.toThrow(/self-signed|self signed/);
    });

    it('serves nothing to a plain http:// request on its port', async () => {
      const server = await startTestServer(tlsEnv);
      const plain = server.url.replace('https://', 'http://');
      const outcome = await new Promise<string>((resolve) => {
        const req = httpRequest(`${plain}/`, (res) => resolve(`answered ${res.statusCode}`));
        req.on('error', (err: Error & { code?: string }) => resolve(`error ${err.code ?? err.message}`));
        req.setTimeout(10_000, () => resolve('timeout'));
        req.end();
      });
      expect(outcome).toMatch(/^error /);
      // And the server is still there for the next client.
      expect((await getText(`${server.url}/`, ca)).body).toContain(HELLO_TEXT);
    });

    it('runs from the entry point, logging the https:// url', async () => {
      const server = await spawnServer({ ...tlsEnv, LOG_LEVEL: 'info' });
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect((await getText(`${server.url}/`, ca)).body).toContain(HELLO_TEXT);
      const listening = server.lines.map((line) => JSON.parse(line) as { msg?: string; tls?: boolean }).find((entry) => entry.msg === 'listening');
      expect(listening?.tls).toBe(true);
      server.child.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
    });
  });

  describe('configuration', () => {
    it('reads both files and keeps them in the config', () => {
      const config = loadConfig(tlsEnv);
      expect(config.tls).toEqual({ certFile: cert.certFile, keyFile: cert.keyFile, cert: cert.cert, key: cert.key });
    });

    it('wants both or neither', () => {
      expect(problemsOf({ TLS_CERT: cert.certFile })).toEqual([
        `TLS_KEY="": must be set too, since TLS_CERT=${JSON.stringify(cert.certFile)} is (both or neither)`,
      ]);
      expect(problemsOf({ TLS_KEY: cert.keyFile })).toEqual([
        `TLS_CERT="": must be set too, since TLS_KEY=${JSON.stringify(cert.keyFile)} is (both or neither)`,
      ]);
    });

    it('names each file that cannot be read, is not PEM, or does not match', () => {
      const missing = path.join(cert.dir, 'missing.pem');
      expect(problemsOf({ TLS_CERT: missing, TLS_KEY: cert.keyFile })).toEqual([
        `TLS_CERT=${JSON.stringify(missing)}: cannot read the file (ENOENT: no such file or directory)`,
      ]);
      // Swapped: neither is what it should be.
      const swapped = problemsOf({ TLS_CERT: cert.keyFile, TLS_KEY: cert.certFile });
      expect(swapped).toHaveLength(2);
      expect(swapped[0]).toMatch(new RegExp(`^TLS_CERT=${JSON.stringify(cert.keyFile)}: not a PEM certificate`));
      expect(swapped[1]).toMatch(new RegExp(`^TLS_KEY=${JSON.stringify(cert.certFile)}: not an unencrypted PEM private key`));
      const garbage = path.join(cert.dir, 'garbage.pem');
      writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
      expect(problemsOf({ TLS_CERT: garbage, TLS_KEY: cert.keyFile })[0]).toMatch(/^TLS_CERT=".*garbage\.pem": not a PEM certificate \(/);
      const other = cert.otherKey();
      expect(problemsOf({ TLS_CERT: cert.certFile, TLS_KEY: other })).toEqual([
        `TLS_KEY=${JSON.stringify(other)}: does not match the certificate in TLS_CERT=${JSON.stringify(cert.certFile)}`,
      ]);
    });

    it('refuses WORKERS > 1 with TLS, and says what to do instead', () => {
      expect(problemsOf({ ...tlsEnv, WORKERS: '2' })).toEqual([
        'WORKERS="2": must be 1 with TLS_CERT (put a TLS-terminating reverse proxy in front of several workers)',
      ]);
    });

    it('lists the TLS problems with the others, one line each', () => {
      const problems = problemsOf({ PORT: 'x', TLS_CERT: path.join(cert.dir, 'nope.pem'), TLS_KEY: cert.keyFile });
      expect(problems.map((p) => p.split('=')[0])).toEqual(['PORT', 'TLS_CERT']);
    });

    describe('through the entry point: exit 2, one line naming the file', () => {
      async function exitsWithConfigError(env: Record<string, string>, line: RegExp): Promise<void> {
        const run = runMain({ PORT: '0', HOST: '127.0.0.1', ...env });
        expect((await run.exited).code).toBe(2);
        const lines = run.stderr().trimEnd().split('\n');
        expect(lines[0]).toBe('Invalid configuration:');
        expect(lines.slice(1)).toEqual([expect.stringMatching(line)]);
        expect(run.lines.filter((l) => l !== '')).toEqual([]);
      }
      const quoted = (file: string) => JSON.stringify(file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

      it('TLS_CERT without TLS_KEY', async () => {
        await exitsWithConfigError({ TLS_CERT: cert.certFile }, new RegExp(`^  - TLS_KEY="": must be set too, since TLS_CERT=${quoted(cert.certFile)}`));
      });

      it('an unreadable key file', async () => {
        const unreadable = path.join(cert.dir, 'unreadable-key.pem');
        writeFileSync(unreadable, cert.key);
        chmodSync(unreadable, 0o000);
        // root reads any file: then a directory stands in for the unreadable file.
        const file = process.getuid?.() === 0 ? cert.dir : unreadable;
        await exitsWithConfigError({ TLS_CERT: cert.certFile, TLS_KEY: file }, new RegExp(`^  - TLS_KEY=${quoted(file)}: cannot read the file \\((EACCES|EISDIR)`));
      });

      it('a key that does not match the certificate', async () => {
        const other = cert.otherKey();
        await exitsWithConfigError(
          { TLS_CERT: cert.certFile, TLS_KEY: other },
          new RegExp(`^  - TLS_KEY=${quoted(other)}: does not match the certificate in TLS_CERT=${quoted(cert.certFile)}$`),
        );
      });
    });
  });

  describeWithBrowser(
    'the /chat page over https in Chromium',
    (browser) => {
      const WAIT = { timeout: 15_000 };
      const connected = (page: Page) => page.locator('#status[data-state="connected"]').waitFor(WAIT);

      async function openChat(url: string, name: string, transport: 'socket.io' | 'raw'): Promise<Page> {
        const page = await browser.open(`${url}/chat`, { storage: { 'chat-bridge.name': name, 'chat-bridge.transport': transport } });
        await connected(page);
        return page;
      }

      async function say(page: Page, text: string): Promise<void> {
        await page.locator('#text').fill(text);
        await page.locator('#text').press('Enter');
      }

      const chatRow = (page: Page, text: string) =>
        page.locator('#messages li.chat').filter({ has: page.locator('.text', { hasText: new RegExp(`^${text}$`) }) }).last().waitFor(WAIT);

      it('loads and chats over https and wss, with Socket.IO and raw pages and a Node client', async () => {
        const server = await startTestServer(tlsEnv);
        const alice = await openChat(server.url, 'alice', 'socket.io');
        expect(alice.url()).toMatch(/^https:\/\//);
        const bob = await openChat(server.url, 'bob', 'raw');
        const carol = await connectRaw(server.url, { name: 'carol' }, {}, { ca });
        expect(await carol.messages.next()).toBe(JOIN);

        await say(alice, 'hello from the Socket.IO page');
        await chatRow(bob, 'hello from the Socket.IO page');
        expect(await carol.messages.next()).toBe('hello from the Socket.IO page');

        await say(bob, 'hello from the raw page');
        await chatRow(alice, 'hello from the raw page');
        expect(await carol.messages.next()).toBe('hello from the raw page');

        carol.send('hello from Node');
        await chatRow(alice, 'hello from Node');
        await chatRow(bob, 'hello from Node');
      });
    },
    // Chromium trusts this one certificate (by its public key), nothing else.
    { args: [`--ignore-certificate-errors-spki-list=${cert.spkiHash}`] },
  );
});
