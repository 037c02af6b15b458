/**
 * What the webhook tests do again and again: a server process posting to a receiver,
 * clients of both kinds that have joined a room, a post that resolves with its id, and
 * what the receiver got of a room's messages.
 */
import { connectRaw, type RawTestClient } from './raw-client';
import { nextFrameOf } from './room-events';
import { connectSio, type SioTestClient } from './sio-client';
import { spawnServer, type SpawnedServer } from './spawn-server';
import type { WebhookReceiver } from './webhook-receiver';

/**
 * A server process posting its events to `url` signed with `secret`, retrying within half
 * a second (a test does not wait the default minutes between retries).
 */
export function webhookServer(url: string, secret: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  return spawnServer({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_MAX_MS: '500', ...env });
}

/** The ids of the messages whose `message.created` the receiver accepted for `room`, in the order they came. */
export const createdIds = (receiver: WebhookReceiver, room: string): string[] =>
  receiver
    .accepted()
    .filter((event) => event.type === 'message.created' && event.room === room)
    .map((event) => event.data.id as string);

/** A raw JSON client of `room` with acks (`?format=json&ack=1`), once its own join notice came. */
export async function rawMember(url: string, room: string, query: Record<string, string>): Promise<RawTestClient> {
  const client = await connectRaw(url, { format: 'json', ack: '1', ...query }, {}, { room });
  await nextFrameOf(client, 'notice');
  return client;
}

/** A Socket.IO client of `room`, once its own join notice came. */
export async function sioMember(url: string, room: string, auth: Record<string, unknown>): Promise<SioTestClient> {
  const client = await connectSio(url, { room, auth });
  await client.notices.next();
  return client;
}

/** Sends `text` from a raw client with acks; resolves with its id once acked (stored). */
export async function rawPost(client: RawTestClient, text: string): Promise<string> {
  client.send(text);
  const ack = await nextFrameOf(client, 'ack');
  if (typeof ack.id !== 'string') throw new Error(`"${text}" was refused: ${JSON.stringify(ack)}`);
  return ack.id;
}
