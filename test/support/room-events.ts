/**
 * What the tests of edits, deletes, reactions and read markers listen to: the room's
 * change events on a Socket.IO client, and a raw JSON client's frames by type.
 */
import type { ChatSocket } from '../../client/connect';
import type { Kicked, MessageDelete, MessageEdit, Reaction, ReadMarker } from '../../server/protocol';
import { EventQueue } from './event-queue';
import type { RawTestClient } from './raw-client';
import type { SioTestClient } from './sio-client';

export interface ChangeQueues {
  edits: EventQueue<MessageEdit>;
  deletes: EventQueue<MessageDelete>;
  reactions: EventQueue<Reaction>;
  reads: EventQueue<ReadMarker>;
}

/** Queues of a Socket.IO client's change events, listening from now on. */
export function changeQueues(socket: ChatSocket, label: string): ChangeQueues {
  const queues: ChangeQueues = {
    edits: new EventQueue(`${label} edit`),
    deletes: new EventQueue(`${label} delete`),
    reactions: new EventQueue(`${label} reaction`),
    reads: new EventQueue(`${label} read`),
  };
  socket.on('edit', (edit) => queues.edits.push(edit));
  socket.on('delete', (deleted) => queues.deletes.push(deleted));
  socket.on('reaction', (reaction) => queues.reactions.push(reaction));
  socket.on('read', (marker) => queues.reads.push(marker));
  return queues;
}

/** The next frame of a raw JSON client whose `type` is `type` (others skipped), parsed. */
export async function nextFrameOf(client: RawTestClient, type: string, timeoutMs = 5_000): Promise<Record<string, unknown>> {
  for (;;) {
    const frame = JSON.parse(await client.messages.next(timeoutMs)) as Record<string, unknown>;
    if (frame.type === type) return frame;
  }
}

/** Sends a raw JSON request and resolves with the answer that carries its `ref` (others skipped). */
export async function rawRequest(client: RawTestClient, request: Record<string, unknown>, timeoutMs = 5_000): Promise<Record<string, unknown>> {
  const ref = `r${Math.random().toString(36).slice(2)}`;
  client.send(JSON.stringify({ ...request, ref }));
  for (;;) {
    const frame = JSON.parse(await client.messages.next(timeoutMs)) as Record<string, unknown>;
    if (frame.ref === ref) return frame;
  }
}

/** What a Socket.IO client hears when it is moved out: `kicked`, then its disconnect reason. */
export function departures(client: SioTestClient) {
  const kicked = new EventQueue<Kicked>('kicked');
  const gone = new EventQueue<string>('disconnect');
  client.socket.on('kicked', (event) => kicked.push(event));
  client.socket.on('disconnect', (reason) => gone.push(reason));
  return { kicked, gone };
}
