import { createCluster } from 'redis';
import { onCleanup } from './support/cleanup';
import { connectRedisClient } from './support/redis';
import { describeWithRedisCluster, startRedisCluster } from './support/redis-cluster';

// Three redis-server processes joined by redis-cli: a few seconds to start.
jest.setTimeout(60_000);

describeWithRedisCluster('a throwaway Redis Cluster', () => {
  it('serves keys in every slot range through a cluster client, with each node seeing three masters and all slots', async () => {
    const redis = await startRedisCluster();
    expect(redis.urls).toEqual(redis.ports.map((port) => `redis://127.0.0.1:${port}`));
    expect(redis.url).toBe(redis.urls[0]);

    const cluster = createCluster({ rootNodes: [{ url: redis.url }] });
    cluster.on('error', () => undefined);
    await cluster.connect();
    onCleanup('clients', () => cluster.destroy());
    expect(cluster.masters).toHaveLength(3);

    const keys = Array.from({ length: 30 }, (_, i) => `{room${i}}#log`);
    for (const key of keys) await cluster.set(key, `value of ${key}`);
    for (const key of keys) expect(await cluster.get(key)).toBe(`value of ${key}`);

    const nodes = await Promise.all(redis.urls.map((url) => connectRedisClient(url)));
    for (const node of nodes) {
      const info = String(await node.sendCommand(['CLUSTER', 'INFO']));
      expect(info).toMatch(/^cluster_state:ok\r?$/m);
      expect(info).toMatch(/^cluster_slots_ok:16384\r?$/m);
      const masters = String(await node.sendCommand(['CLUSTER', 'NODES']))
        .split('\n')
        .filter((line) => / (myself,)?master /.test(line));
      expect(masters).toHaveLength(3);
      // The keys went to several slots, held by different masters: each holds some.
      expect(await node.dbSize()).toBeGreaterThan(0);
    }
    expect((await Promise.all(nodes.map((node) => node.dbSize()))).reduce((a, b) => a + b)).toBe(keys.length);
  });
});
