import { exportSPKI, generateKeyPair } from 'jose';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../server/config';
import { settingsTable } from '../server/settings';
import { README, withSettingsTable } from '../tools/settings-table';
import { runMain } from './support/spawn-server';

describe('configuration', () => {
  it('is documented in the README by the table server/settings.ts gives (npm run docs:settings writes it)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(withSettingsTable(readme, settingsTable()));
  });

  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8000,
      host: '0.0.0.0',
      allowedOrigins: [],
      maxMessageBytes: 65536,
      historySize: 50,
      historyBytes: 1048576,
      historyKeep: 10000,
      dataDir: 'data',
      drainMs: 10000,
      maxStoredRooms: 10000,
      maxStoredBytes: 1073741824,
      logLevel: 'info',
      rateLimit: 20,
      rateBurst: 40,
      rateLimitBytes: 1048576,
      rateBurstBytes: 4194304,
      maxBufferedBytes: 1048576,
      maxBufferedMs: 25000,
      bufferedCeilingBytes: 67108864,
      heartbeatMs: 25000,
      maxConnections: 10000,
      maxConnectionsPerIp: 0,
      maxRooms: 1000,
      handshakeTimeoutMs: 10000,
      maxPendingConnections: 512,
      maxPendingConnectionsPerIp: 256,
      trustProxy: expect.objectContaining({ entries: [] }),
      chatToken: null,
      redisUrl: null,
      redisCluster: false,
      workers: 1,
      metricsToken: null,
      allowedHosts: [],
      apiKey: null,
      apiRateLimit: 100,
      tls: null,
      jwt: null,
      socketIoFastPath: true,
      webhookUrl: null,
      webhookSecret: null,
      webhookMaxAgeS: 86400,
      webhookTimeoutMs: 5000,
      webhookRetryMaxMs: 600000,
      publishHookUrl: null,
      publishHookTimeoutMs: 1000,
      publishHookOnError: 'reject',
    });
  });

  it('reads every variable, and treats an empty one as unset', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080/',
      MAX_MESSAGE_BYTES: '1024',
      HISTORY_SIZE: '0',
      HISTORY_BYTES: '4096',
      HISTORY_KEEP: '300',
      DATA_DIR: ':memory:',
      DRAIN_MS: '3000',
      MAX_STORED_ROOMS: '0',
      MAX_STORED_BYTES: '65536',
      LOG_LEVEL: '',
      RATE_LIMIT: '0',
      RATE_BURST: '5',
      RATE_LIMIT_BYTES: '2048',
      RATE_BURST_BYTES: '4096',
      MAX_BUFFERED_BYTES: '65536',
      MAX_BUFFERED_MS: '500',
      BUFFERED_CEILING_BYTES: '131072',
      HEARTBEAT_MS: '1000',
      SOCKETIO_FAST_PATH: 'off',
      MAX_CONNECTIONS: '10',
      MAX_CONNECTIONS_PER_IP: '2',
      MAX_ROOMS: '7',
      HANDSHAKE_TIMEOUT_MS: '2500',
      MAX_PENDING_CONNECTIONS: '64',
      MAX_PENDING_CONNECTIONS_PER_IP: '0',
      TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1',
      CHAT_TOKEN: 's3cret',
      REDIS_URL: 'redis://127.0.0.1:6380',
      REDIS_CLUSTER: '0',
      WORKERS: '4',
      METRICS_TOKEN: 'scrape-me',
      ALLOWED_HOSTS: 'Chat.Example.com, localhost:8000,[::1]:8000',
      API_KEY: 'backend-key',
      API_RATE_LIMIT: '7',
      WEBHOOK_URL: 'https://backend.example/hooks',
      WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      WEBHOOK_MAX_AGE: '3600',
      WEBHOOK_TIMEOUT_MS: '2000',
      WEBHOOK_RETRY_MAX_MS: '60000',
      PUBLISH_HOOK_URL: 'http://127.0.0.1:9000/publish',
      PUBLISH_HOOK_TIMEOUT_MS: '250',
      PUBLISH_HOOK_ON_ERROR: 'allow',
    });
    expect(config).toEqual({
      port: 9000,
      host: '127.0.0.1',
      allowedOrigins: ['https://a.example', 'http://b.example:8080'],
      maxMessageBytes: 1024,
      historySize: 0,
      historyBytes: 4096,
      historyKeep: 300,
      dataDir: null,
      drainMs: 3000,
      maxStoredRooms: 0,
      maxStoredBytes: 65536,
      logLevel: 'info',
      rateLimit: 0,
      rateBurst: 5,
      rateLimitBytes: 2048,
      rateBurstBytes: 4096,
      maxBufferedBytes: 65536,
      maxBufferedMs: 500,
      bufferedCeilingBytes: 131072,
      heartbeatMs: 1000,
      maxConnections: 10,
      maxConnectionsPerIp: 2,
      maxRooms: 7,
      handshakeTimeoutMs: 2500,
      maxPendingConnections: 64,
      maxPendingConnectionsPerIp: 0,
      trustProxy: expect.objectContaining({ entries: ['127.0.0.1', '10.0.0.0/8', '::1'] }),
      chatToken: 's3cret',
      redisUrl: 'redis://127.0.0.1:6380',
      redisCluster: false,
      workers: 4,
      metricsToken: 'scrape-me',
      allowedHosts: [
        { hostname: 'chat.example.com', port: null },
        { hostname: 'localhost', port: 8000 },
        { hostname: '[::1]', port: 8000 },
      ],
      apiKey: 'backend-key',
      apiRateLimit: 7,
      tls: null,
      jwt: null,
      socketIoFastPath: false,
      webhookUrl: 'https://backend.example/hooks',
      webhookSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      webhookMaxAgeS: 3600,
      webhookTimeoutMs: 2000,
      webhookRetryMaxMs: 60000,
      publishHookUrl: 'http://127.0.0.1:9000/publish',
      publishHookTimeoutMs: 250,
      publishHookOnError: 'allow',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(loadConfig({ ALLOWED_ORIGINS: ' * ' }).allowedOrigins).toBe('*');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: '70000',
        HOST: '  ',
        ALLOWED_ORIGINS: 'evil.example',
        MAX_MESSAGE_BYTES: '1k',
        HISTORY_SIZE: '-1',
        MAX_STORED_ROOMS: 'many',
        MAX_STORED_BYTES: String(2 * 1024 ** 5),
        LOG_LEVEL: 'loud',
        REDIS_URL: 'localhost:6379',
        WORKERS: '0',
        SOCKETIO_FAST_PATH: 'yes',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.split('=')[0])).toEqual([
      'PORT',
      'HOST',
      'ALLOWED_ORIGINS',
      'MAX_MESSAGE_BYTES',
      'HISTORY_SIZE',
      'MAX_STORED_ROOMS',
      'MAX_STORED_BYTES',
      'LOG_LEVEL',
      'REDIS_URL',
      'WORKERS',
      'SOCKETIO_FAST_PATH',
    ]);
    expect(problems[0]).toBe('PORT="70000": must be a whole number from 0 to 65535');
    expect(problems[6]).toBe('MAX_STORED_BYTES="2251799813685248": must be a whole number from 0 to 1125899906842624');
    expect(problems[7]).toContain('must be one of fatal, error, warn, info, debug, trace, silent');
    expect(problems[10]).toBe('SOCKETIO_FAST_PATH="yes": Invalid option: expected one of "on"|"off"');
  });

  it('reads the JWT settings: a secret, a public key file (its algorithm from the key type) or a JWKS URL', async () => {
    expect(loadConfig({ JWT_SECRET: 'k', JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'chat' }).jwt).toEqual({
      key: { kind: 'secret', secret: 'k' },
      issuer: 'https://id.example',
      audience: 'chat',
    });
    expect(loadConfig({ JWT_JWKS_URL: 'https://id.example/jwks.json' }).jwt).toEqual({
      key: { kind: 'jwks', url: 'https://id.example/jwks.json' },
      issuer: null,
      audience: null,
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'chat-config-'));
    for (const [alg, expected] of [['RS256', 'RS256'], ['ES256', 'ES256'], ['EdDSA', 'EdDSA']] as const) {
      const { publicKey } = await generateKeyPair(alg, { extractable: true });
      const file = path.join(dir, `${alg}.pem`);
      writeFileSync(file, await exportSPKI(publicKey));
      expect(loadConfig({ JWT_PUBLIC_KEY: file }).jwt?.key).toEqual(expect.objectContaining({ kind: 'public-key', path: file, algorithm: expected }));
    }
  });

  it.each([
    [{ JWT_SECRET: 'k', CHAT_TOKEN: 't' }, 'CHAT_TOKEN=<hidden>: cannot be combined with JWT_SECRET'],
    [{ JWT_ISSUER: 'x', CHAT_TOKEN: 't' }, 'CHAT_TOKEN=<hidden>: cannot be combined with JWT_ISSUER'],
    [{ JWT_SECRET: 'k', JWT_JWKS_URL: 'https://id.example/jwks' }, 'JWT_JWKS_URL="https://id.example/jwks": set only one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL'],
    [{ JWT_AUDIENCE: 'chat' }, 'JWT_AUDIENCE="chat": needs one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL'],
    [{ JWT_JWKS_URL: 'ftp://id.example/jwks' }, 'JWT_JWKS_URL="ftp://id.example/jwks": must be an http:// or https:// URL'],
    [{ JWT_PUBLIC_KEY: '/nonexistent/key.pem' }, 'JWT_PUBLIC_KEY="/nonexistent/key.pem": cannot read the key file (ENOENT)'],
  ])('refuses the JWT settings %j', (env, problem) => {
    expect(() => loadConfig(env)).toThrow(problem);
  });

  it('refuses a key file that holds no usable public key, and never shows a secret', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chat-config-'));
    const file = path.join(dir, 'not-a-key.pem');
    writeFileSync(file, 'hello\n');
    expect(() => loadConfig({ JWT_PUBLIC_KEY: file })).toThrow(`JWT_PUBLIC_KEY=${JSON.stringify(file)}: is not a PEM public key`);
    let message = '';
    try {
      loadConfig({ JWT_SECRET: 'very-secret', CHAT_TOKEN: 'also-secret', JWT_JWKS_URL: 'https://x.example' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('JWT_JWKS_URL');
    expect(message).not.toMatch(/very-secret|also-secret/);
  });

  it.each([
    ['HANDSHAKE_TIMEOUT_MS', '0', 'must be a whole number from 100 to 3600000'],
    ['HANDSHAKE_TIMEOUT_MS', '10s', 'must be a whole number from 100 to 3600000'],
    ['MAX_PENDING_CONNECTIONS', '0', 'must be a whole number from 1 to 10000000'],
    ['MAX_PENDING_CONNECTIONS_PER_IP', '-1', 'must be a whole number from 0 to 10000000'],
  ])('refuses %s=%s', (name, value, problem) => {
    expect(() => loadConfig({ [name]: value })).toThrow(`${name}=${JSON.stringify(value)}: ${problem}`);
  });

  it.each([
    [{ PUBLISH_HOOK_URL: 'http://127.0.0.1:9000/hook' }, 'WEBHOOK_SECRET=<hidden>: must be set with PUBLISH_HOOK_URL (it signs every request)'],
    [{ PUBLISH_HOOK_URL: 'ftp://hooks.example/hook' }, 'PUBLISH_HOOK_URL="ftp://hooks.example/hook": must be an http:// or https:// URL'],
    [{ PUBLISH_HOOK_ON_ERROR: 'maybe' }, 'PUBLISH_HOOK_ON_ERROR="maybe": must be reject or allow'],
  ])('refuses the publish hook settings %j', (env, problem) => {
    expect(() => loadConfig(env)).toThrow(problem);
  });

  it('reads a Redis Cluster from REDIS_CLUSTER=1 or a redis+cluster:// URL, and refuses one without a URL or with webhooks', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:7000', REDIS_CLUSTER: '1' })).toMatchObject({ redisUrl: 'redis://127.0.0.1:7000', redisCluster: true });
    expect(loadConfig({ REDIS_URL: 'rediss+cluster://cache.example:7000' })).toMatchObject({ redisUrl: 'rediss://cache.example:7000', redisCluster: true });
    expect(() => loadConfig({ REDIS_CLUSTER: '1' })).toThrow('REDIS_CLUSTER="1": needs REDIS_URL');
    expect(() => loadConfig({ REDIS_CLUSTER: 'yes' })).toThrow('REDIS_CLUSTER="yes": must be 0 or 1');
    const webhooks = { WEBHOOK_URL: 'https://backend.example/hooks', WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 1).toString('base64')}` };
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://127.0.0.1:7000', ...webhooks })).toThrow('WEBHOOK_URL="https://backend.example/hooks": cannot be combined with a Redis Cluster');
  });

  it('refuses a buffer ceiling below MAX_BUFFERED_BYTES', () => {
    expect(() => loadConfig({ MAX_BUFFERED_BYTES: '1048576', BUFFERED_CEILING_BYTES: '65536' })).toThrow(
      'BUFFERED_CEILING_BYTES="65536": must be at least MAX_BUFFERED_BYTES',
    );
  });

  it('refuses a webhook without its secret, a secret of the wrong shape (never showing it), and a URL that is not http(s)', () => {
    expect(() => loadConfig({ WEBHOOK_URL: 'https://backend.example/hooks' })).toThrow('WEBHOOK_SECRET=<hidden>: must be set with WEBHOOK_URL');
    let error: unknown;
    try {
      loadConfig({ WEBHOOK_URL: 'https://backend.example/hooks', WEBHOOK_SECRET: 'not-a-whsec-secret' });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems).toEqual(['WEBHOOK_SECRET=<hidden>: must be whsec_ and the base64 of a key of at least 16 bytes']);
    expect(String(error)).not.toContain('not-a-whsec-secret');
    expect(() => loadConfig({ WEBHOOK_URL: 'ftp://backend.example', WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' })).toThrow(
      'WEBHOOK_URL="ftp://backend.example": must be an http:// or https:// URL',
    );
  });

  it.each([['https://chat.example.com'], ['chat.example.com/path'], ['chat.example.com:99999'], ['user@chat.example.com'], ['a b']])(
    'refuses %s as an allowed host',
    (host) => {
      expect(() => loadConfig({ ALLOWED_HOSTS: host })).toThrow(/ALLOWED_HOSTS=/);
    },
  );

  it.each([['nginx'], ['10.0.0.0/33'], ['::1/129'], ['10.0.0.1/8/8'], ['10.0.0.1:8080'], ['10.0.0.0/x']])('refuses %s as a trusted proxy', (proxy) => {
    expect(() => loadConfig({ TRUST_PROXY: `127.0.0.1,${proxy}` })).toThrow(`TRUST_PROXY="127.0.0.1,${proxy}": must be a comma-separated list of IP addresses or CIDR ranges, like 127.0.0.1,10.0.0.0/8,::1; "${proxy}" is not one`);
  });

  it.each([['ftp://files.example'], ['https://a.example/path'], ['null']])('refuses %s as an allowed origin', (origin) => {
    expect(() => loadConfig({ ALLOWED_ORIGINS: origin })).toThrow(ConfigError);
  });

  it('stops the real server with exit code 2 and one message naming every bad variable', async () => {
    const run = runMain({ PORT: 'eighty', LOG_LEVEL: 'chatty', MAX_MESSAGE_BYTES: '0' });
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    const stderr = run.stderr();
    expect(stderr).toMatch(/^Invalid configuration:\n/);
    for (const name of ['PORT', 'LOG_LEVEL', 'MAX_MESSAGE_BYTES']) expect(stderr).toContain(`${name}=`);
    expect(stderr).not.toContain('HOST');
    expect(run.lines.filter((line) => line !== '')).toEqual([]);
  });

  it('stops with exit code 1 and says so when REDIS_URL does not answer at start', async () => {
    // Port 1 on loopback: nothing listens there, so every connection is refused.
    const run = runMain({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:1' });
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    expect(run.stderr()).toContain('redis at 127.0.0.1:1 did not answer');
  });
});
