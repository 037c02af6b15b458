/**
 * Other libraries' internals this server relies on (server/internals/): all there in the
 * versions package.json pins, and a server that finds one missing says so at start.
 */
import { loadConfig } from '../server/config';
import { checkInternals } from '../server/internals/check';
import { createLogger } from '../server/support/logger';
import { freshDataDir } from './support/data-dir';

describe('the internals of ws, engine.io, socket.io and Node', () => {
  it('are all there in the versions this project pins', () => {
    expect(checkInternals()).toEqual({ required: [], fastPath: [], primary: [] });
  });

  it('stop the server at start, naming what is missing, when a required one is gone', async () => {
    let start!: typeof import('../server/process/server').startServer;
    jest.isolateModules(() => {
      // What another socket.io version would look like to the start-up check.
      jest.doMock('../server/internals/check', () => ({
        ...jest.requireActual('../server/internals/check'),
        checkInternals: () => ({ required: ['socket.io Server._nsps'], fastPath: [], primary: [] }),
      }));
      ({ startServer: start } = jest.requireActual<typeof import('../server/process/server')>('../server/process/server'));
    });
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: freshDataDir() });
    const started = start(config, { logger: createLogger('silent') });
    await expect(started).rejects.toThrow('these library versions lack internals this server relies on: socket.io Server._nsps');
    await expect(started).rejects.toMatchObject({ name: 'MissingInternalsError' });
  });
});
