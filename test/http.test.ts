import { startTestServer } from './support/server';

describe('HTTP', () => {
  it('says exactly the seed greeting on GET /', async () => {
    const server = await startTestServer();
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toBe('Hello, This is a WebSocket tester!');
  });

  it('answers /healthz and /readyz while running', async () => {
    const server = await startTestServer();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('answers 404 for an unknown path', async () => {
    const server = await startTestServer();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('serves the Socket.IO client bundle for browser scripts', async () => {
    const server = await startTestServer();
    const res = await fetch(`${server.url}/socket.io/socket.io.min.js`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Socket.IO');
  });
});
