import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A self-signed certificate for localhost and 127.0.0.1, made for one test file. */
export interface TestCertificate {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM, for clients' `ca`: trusting exactly this certificate. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** base64 SHA-256 of the public key, for Chromium's --ignore-certificate-errors-spki-list. */
  readonly spkiHash: string;
  /** Another EC key in the same directory: valid PEM, matching nothing. */
  otherKey(): string;
  /** Deletes the directory. */
  remove(): void;
}

/** Node's crypto cannot write X.509 certificates; the openssl command line can. */
export const opensslMissing: string | null = (() => {
  const probe = spawnSync('openssl', ['version'], { stdio: 'ignore' });
  return probe.error !== undefined || probe.status !== 0 ? 'no openssl command on PATH' : null;
})();

/**
 * `describe` for tests that need a certificate: one is made for them as the file is
 * collected (so that a browser can be launched trusting it) and deleted after them.
 * Without openssl they are skipped, saying why, unless CI is set, when they fail instead,
 * so that CI cannot pass by skipping them.
 */
export function describeWithCertificate(title: string, body: (cert: TestCertificate) => void): void {
  if (opensslMissing !== null) {
    const why = `${opensslMissing}; install openssl`;
    describe(title, () => {
      if (process.env['CI']) {
        it('needs openssl', () => {
          throw new Error(`CI is set but the TLS tests cannot run: ${why}`);
        });
      } else {
        it.skip(`(skipped: ${why})`, () => {});
      }
    });
    if (!process.env['CI']) process.stderr.write(`\n[TLS tests skipped] ${title}: ${why}\n`);
    return;
  }
  const cert = makeTestCertificate();
  describe(title, () => {
    afterAll(() => cert.remove());
    body(cert);
  });
}

/**
 * A fresh P-256 key and a self-signed certificate valid for one day, for CN=localhost with
 * localhost and 127.0.0.1 as subject alternative names, in a temporary directory.
 * Synchronous, so that it can run while a test file is being collected.
 */
export function makeTestCertificate(): TestCertificate {
  if (opensslMissing !== null) throw new Error(`cannot make a certificate: ${opensslMissing}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'chat-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl([
    'req', '-x509',
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days', '1',
    '-keyout', keyFile, '-out', certFile,
  ]);
  const cert = readFileSync(certFile);
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  let others = 0;
  return {
    dir,
    certFile,
    keyFile,
    cert,
    key: readFileSync(keyFile),
    spkiHash: createHash('sha256').update(spki).digest('base64'),
    otherKey() {
      const file = path.join(dir, `other-key-${++others}.pem`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
