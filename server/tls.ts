import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

/** The certificate and key the server presents (TLS_CERT, TLS_KEY), read and checked at start. */
export interface TlsFiles {
  /** The files' paths as configured, for messages. */
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM: the server's certificate, then any intermediates (a "fullchain" file). */
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * What every TLS connection gets besides the certificate: TLS 1.2 at least (Node's default
 * too, said here so that no NODE_OPTIONS can lower it); Node's default ciphers, which offer
 * only forward-secret AEAD suites first.
 */
export const TLS_DEFAULTS = { minVersion: 'TLSv1.2' } as const satisfies SecureContextOptions;

/**
 * Reads and checks TLS_CERT and TLS_KEY (both set: the schema has made sure). Each problem
 * is one line naming the variable and its file, in ConfigError's `NAME="value": why` form;
 * without problems it returns the files' contents.
 */
export function readTlsFiles(certFile: string, keyFile: string, problems: string[]): TlsFiles | null {
  const certName = `TLS_CERT=${JSON.stringify(certFile)}`;
  const keyName = `TLS_KEY=${JSON.stringify(keyFile)}`;
  const before = problems.length;

  const cert = readPem(certFile, certName, problems);
  let x509: X509Certificate | null = null;
  if (cert !== null) {
    try {
      if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no BEGIN CERTIFICATE block');
      x509 = new X509Certificate(cert);
    } catch (err) {
      problems.push(`${certName}: not a PEM certificate (${reason(err)})`);
    }
  }
  const key = readPem(keyFile, keyName, problems);
  let keyObject: KeyObject | null = null;
  if (key !== null) {
    try {
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new Error('no BEGIN PRIVATE KEY block');
      keyObject = createPrivateKey({ key, format: 'pem' });
    } catch (err) {
      problems.push(`${keyName}: not an unencrypted PEM private key (${reason(err)})`);
    }
  }
  if (x509 !== null && keyObject !== null && !x509.checkPrivateKey(keyObject)) {
    problems.push(`${keyName}: does not match the certificate in ${certName}`);
  }
  if (problems.length > before || cert === null || key === null) return null;

  // What the server itself will do with them: anything OpenSSL still refuses is said here.
  try {
    createSecureContext({ ...TLS_DEFAULTS, cert, key });
  } catch (err) {
    problems.push(`${certName}, ${keyName}: refused by TLS (${reason(err)})`);
    return null;
  }
  return Object.freeze({ certFile, keyFile, cert, key });
}

function readPem(file: string, name: string, problems: string[]): Buffer | null {
  try {
    return readFileSync(file);
  } catch (err) {
    // "ENOENT: no such file or directory, open '<file>'": the file is named already.
    problems.push(`${name}: cannot read the file (${reason(err).replace(/, \w+ '.*'$/, '')})`);
    return null;
  }
}

function reason(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}
