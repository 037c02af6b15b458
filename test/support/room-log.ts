import type { ChatMessage, Notice } from '../../server/protocol';
import type { RawTestClient } from './raw-client';
import type { SioTestClient } from './sio-client';

export type Entry = ({ type: 'chat' } & ChatMessage) | ({ type: 'notice' } & Notice);

/**
 * Everything one observer saw, kept whole, for invariants over a long test: which chats
 * arrived in which order, and how often each name joined and left.
 */
export class RoomLog {
  readonly entries: Entry[] = [];

  static ofRaw(client: RawTestClient): RoomLog {
    const log = new RoomLog();
    client.ws.on('message', (data) => log.entries.push(JSON.parse(String(data)) as Entry));
    return log;
  }

  static ofSio(client: SioTestClient): RoomLog {
    const log = new RoomLog();
    client.socket.on('chat', (message) => log.entries.push({ type: 'chat', ...message }));
    client.socket.on('notice', (notice) => log.entries.push({ type: 'notice', ...notice }));
    return log;
  }

  chatsFrom(name: string): string[] {
    return this.entries.flatMap((e) => (e.type === 'chat' && e.name === name ? [e.text] : []));
  }

  count(kind: 'join' | 'leave', name: string): number {
    return this.entries.filter((e) => e.type === 'notice' && e.kind === kind && e.name === name).length;
  }

  names(): Set<string> {
    return new Set(this.entries.flatMap((e) => (e.type === 'notice' ? [e.name] : [])));
  }
}
