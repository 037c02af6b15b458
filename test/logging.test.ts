import { loadConfig } from '../server/config';
import { createLogger } from '../server/support/logger';
import { startServer } from '../server/process/server';
import { onCleanup } from './support/cleanup';
import { connectRaw } from './support/raw-client';
import { connectSio } from './support/sio-client';
import { waitUntil } from './support/wait';

interface LogLine {
  level: number;
  msg: string;
  transport?: string;
  name?: string;
  text?: string;
}

async function serverLoggingAt(level: 'info' | 'debug') {
  const lines: LogLine[] = [];
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: level });
  const logger = createLogger(config.logLevel, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const server = await startServer(config, { logger, shutdownGraceMs: 1_000 });
  onCleanup('servers', () => server.close());
  return { server, lines };
}


describe('logs', () => {
  it('write one line per connection open and close, with transport and name', async () => {
    const { server, lines } = await serverLoggingAt('info');
    const raw = await connectRaw(server.url, { name: 'rawuser' });
    const sio = await connectSio(server.url, { auth: { name: 'siouser' } });
    await raw.close();
    sio.socket.disconnect();

    const connectionLines = () => lines.filter((l) => l.msg.startsWith('connection '));
    await waitUntil(() => connectionLines().length === 4, 'four connection lines');
    expect(connectionLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'connection open', transport: 'raw', name: 'rawuser' }),
        expect.objectContaining({ msg: 'connection close', transport: 'raw', name: 'rawuser' }),
        expect.objectContaining({ msg: 'connection open', transport: 'socket.io', name: 'siouser' }),
        expect.objectContaining({ msg: 'connection close', transport: 'socket.io', name: 'siouser' }),
      ]),
    );
  });

  it('keep message bodies out at info level', async () => {
    const { server, lines } = await serverLoggingAt('info');
    const raw = await connectRaw(server.url);
    raw.send('a private message');
    await raw.messages.take(2);
    expect(JSON.stringify(lines)).not.toContain('a private message');
  });

  it('include message bodies at debug level', async () => {
    const { server, lines } = await serverLoggingAt('debug');
    const raw = await connectRaw(server.url, { name: 'dbg' });
    raw.send('visible at debug');
    await raw.messages.take(2);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'chat', name: 'dbg', text: 'visible at debug' }));
  });
});
