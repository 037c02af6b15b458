import type { RawTestClient } from './raw-client';
import type { SioTestClient } from './sio-client';

/**
 * A Socket.IO client's connection state recovery, as a user sees it: its connection is
 * dropped (`drop`: its transport closed, or the node killed), it comes back at `url`
 * (where the load balancer sends it), and `sender` posts two messages while it is away.
 * Then it must be recovered, with those two, live again, and without history again.
 */
export async function expectRecoveredAfter(client: SioTestClient, sender: RawTestClient, url: string, drop: () => unknown): Promise<void> {
  (client.socket.io as unknown as { uri: string }).uri = url;
  // 'connect', not the manager's 'reconnect': `recovered` is known once the namespace answers.
  const reconnected = new Promise<void>((resolve) => client.socket.once('connect', () => resolve()));
  await drop();
  sender.send('missed 1');
  sender.send('missed 2');
  await reconnected;

  expect(client.socket.recovered).toBe(true);
  expect((await client.chats.take(2)).map((m) => m.text)).toEqual(['missed 1', 'missed 2']);
  sender.send('after');
  expect((await client.chats.next()).text).toBe('after');
  // A history on return would have been sent before the chat that came after it.
  expect(client.histories.pending).toEqual([]);
}
