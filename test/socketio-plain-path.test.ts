/**
 * The Socket.IO protocol suites again, on engine.io's own path (SOCKETIO_FAST_PATH=off):
 * the path every packet takes when the fast path is turned off, or when a start-up check
 * finds an engine.io or ws internal it relies on missing. Every server these suites start
 * reads the setting from the environment (test/support/server.ts), and jest gives each
 * test file its own copy of `process.env`, so the other files keep the default.
 * `SOCKETIO_FAST_PATH=off npm test` runs the whole suite this way.
 */
process.env.SOCKETIO_FAST_PATH = 'off';

describe("on engine.io's own path (SOCKETIO_FAST_PATH=off)", () => {
  for (const suite of ['socketio', 'bridge', 'typing', 'slow-consumers', 'rooms', 'presence-list']) {
    // Loaded here, so that their tests are declared inside this block.
    require(`./${suite}.test`);
  }
});
