import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REDIS_CLI } from '../tools/redis-cluster-process';
import { REDIS_SERVER } from '../tools/redis-process';
import { TSX_NODE_FLAGS } from '../tools/tsx';

interface BenchRow {
  id: string;
  delivery: { delivered: number; expected: number; misrouted?: number };
  worstDelivery: number;
}

const SINGLE_PROCESS_ROWS = [
  ...['raw', 'sio'].flatMap((kind) => [
    `${kind}-fanout`,
    `${kind}-cpu`,
    `${kind}-latency-p50`,
    `${kind}-latency-p99`,
    `${kind}-latency-max`,
  ]),
  'sio-vs-raw-cpu',
  'mixed-fanout',
  'mixed-cpu',
  ...['raw', 'sio'].flatMap((kind) => [`${kind}-one-fanout`, `${kind}-one-cpu`]),
  'sio-vs-raw-one-cpu',
  ...['sio-fastpath', 'sio-one-fastpath'].flatMap((prefix) => [`${prefix}-fanout`, `${prefix}-cpu`]),
  ...['raw', 'sio'].flatMap((kind) => [
    `${kind}-storm`,
    `${kind}-storm-probe-p50`,
    `${kind}-storm-probe-p99`,
    `${kind}-storm-probe-max`,
    `${kind}-memory`,
    `${kind}-heap`,
  ]),
];

/** Webhooks and the publish hook against neither (bench/hooks-plan.ts), run with the single-process part. */
const HOOKS_ROWS = ['webhooks', 'publish-hook'].flatMap((hook) => [`${hook}-throughput`, `${hook}-cpu`, `${hook}-latency-p50`, `${hook}-latency-p99`]);

/** Many small rooms at a human pace and saturated, against bare servers with rooms (bench/workload-plan.ts). */
const WORKLOAD_ROWS = ['raw', 'sio'].flatMap((kind) =>
  ['rate-cpu', 'rate-p50', 'rate-p99', 'saturated-fanout', 'saturated-cpu'].map((measure) => `${kind}-rooms-${measure}`),
);

const STORE_ROWS = ['raw', 'sio', 'mixed'].flatMap((room) => [`store-${room}-fanout`, `store-${room}-cpu`, `store-${room}-latency-p99`]);

const CLUSTER_ROWS = ['raw', 'sio', 'mixed'].flatMap((room) =>
  ['ours-redis-2', 'ours-workers-2'].flatMap((setup) => [`${setup}-${room}-fanout`, `${setup}-${room}-cpu`, `${setup}-${room}-latency-p99`]),
);

/** Whether a second node adds capacity (bench/capacity-plan.ts), on one Redis and on a Redis Cluster. */
const CAPACITY_ROWS = [
  ...['foreign-cost', 'node-cpu', 'redis-cpu', 'latency-p50', 'latency-p99', 'split-efficiency'].map((measure) => `capacity-${measure}`),
  ...['foreign-cost', 'node-cpu', 'redis-cpu', 'redis-busiest-cpu', 'latency-p99', 'split-efficiency'].map((measure) => `capacity-cluster-${measure}`),
];

/** The handshake rows of bench/bans-plan.ts. */
const BANS_ROWS = ['bans-handshakes', 'bans-refusals'];

/**
 * The cluster part needs redis-server, the capacity part redis-cli too (it builds a Redis
 * Cluster). Without them the benchmark leaves them out, and so does this check, unless
 * REQUIRE_REDIS=1 (set by .ci/run): then the rows are required.
 */
const expectClusterRows = REDIS_SERVER !== null || process.env.REQUIRE_REDIS === '1';
const expectCapacityRows = (REDIS_SERVER !== null && REDIS_CLI !== null) || process.env.REQUIRE_REDIS === '1';

/**
 * Runs the whole benchmark at its tiny size, as `npm run bench -- --tiny` would: real
 * processes, real sockets, both baselines, two nodes on a real Redis and WORKERS=2.
 * Speed is not judged here (it belongs to the benchmark itself); that every delivery is
 * counted and the outputs are written is.
 */
describe('the fan-out benchmark, tiny', () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('runs every scenario, counts every delivery and writes the table, JSON and chart', async () => {
    const root = path.resolve(__dirname, '..');
    const child = spawn(process.execPath, [...TSX_NODE_FLAGS, 'bench/run.ts', '--tiny', '--out', outDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    if (!expectClusterRows) console.warn('bench smoke: the cluster part was left out: no redis-server');
    if (!expectCapacityRows) console.warn('bench smoke: the capacity part was left out: no redis-server or redis-cli');

    expect(stdout).toContain('| Raw fan-out, 20 clients |');
    for (const ext of ['json', 'md', 'svg']) expect(existsSync(path.join(outDir, `bench-tiny.${ext}`))).toBe(true);
    const { rows } = JSON.parse(readFileSync(path.join(outDir, 'bench-tiny.json'), 'utf8')) as { rows: BenchRow[] };
    expect(rows.map((row) => row.id)).toEqual([...SINGLE_PROCESS_ROWS, ...HOOKS_ROWS, ...WORKLOAD_ROWS, ...STORE_ROWS, ...(expectClusterRows ? CLUSTER_ROWS : []), ...(expectCapacityRows ? CAPACITY_ROWS : []), ...BANS_ROWS]);
    for (const row of rows) {
      expect([row.id, row.delivery.delivered, row.worstDelivery]).toEqual([row.id, row.delivery.expected, 1]);
      expect(row.delivery.expected).toBeGreaterThan(0);
    }
    // The many rooms are checked for deliveries to the wrong room, and had none.
    const roomRows = rows.filter((row) => row.id.includes('-rooms-'));
    expect(roomRows.map((row) => [row.id, row.delivery.misrouted])).toEqual(roomRows.map((row) => [row.id, 0]));
    expect(readFileSync(path.join(outDir, 'bench-tiny.svg'), 'utf8')).toMatch(/^<svg /);
  }, 300_000);
});
