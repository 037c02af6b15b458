import type { ChatMessage, RawJsonFrame } from '../server/protocol';
import { startNodes } from './support/nodes';
import { connectRaw } from './support/raw-client';
import { describeWithRedis, startRedis } from './support/redis';

jest.setTimeout(60_000);

describeWithRedis('resuming a raw client from the Redis store', () => {
  it('replays what it missed past the history in memory, in order, then goes live', async () => {
    const redis = await startRedis();
    // Two messages in memory: the other seven come from Redis, which answers later.
    const [node, other] = await startNodes(2, { REDIS_URL: redis.url, RATE_LIMIT: '0', HISTORY_SIZE: '2' });
    const sender = await connectRaw(node!.url, { name: 'ann', format: 'json' });
    await sender.nextJson(); // own join
    const sent: ChatMessage[] = [];
    const nextChat = async (client: typeof sender): Promise<ChatMessage> => {
      let frame: RawJsonFrame;
      do frame = await client.nextJson();
      while (frame.type !== 'chat');
      const { type: _type, ...message } = frame;
      return message;
    };
    for (let i = 1; i <= 10; i += 1) {
      sender.send(`m${i}`);
      sent.push(await nextChat(sender));
    }

    // On the node that stored them, and on another one, whose memory never held them.
    for (const at of [node!, other!]) {
      const resumed = await connectRaw(at.url, { name: 'bo', format: 'json', since: (sent[0] as ChatMessage).id });
      for (const message of sent.slice(1)) expect(await resumed.nextJson()).toEqual({ type: 'chat', ...message });
      expect(await resumed.nextJson()).toMatchObject({ type: 'notice', kind: 'join', name: 'bo' });
      sender.send(`live on ${at.url}`);
      expect(await nextChat(resumed)).toMatchObject({ text: `live on ${at.url}`, name: 'ann' });
      sent.push(await nextChat(sender));
      await resumed.close();
    }
  });
});
