/**
 * `npm run bench [-- --quick | --tiny] [-- --only single|hooks|rooms|store|cluster|capacity|versions] [-- --out DIR]`: runs
 * our server and the bare baselines side by side (bench/plan.ts) and our server with
 * webhooks and the publish hook against neither (bench/hooks-plan.ts: part of `--only
 * single`, or alone with `--only hooks`), then many small rooms at a human pace and
 * saturated against bare servers with rooms (bench/workload-plan.ts), then our server with its
 * store on (SQLite) against the store off (DATA_DIR=:memory:) (bench/store-plan.ts), then
 * our server on one process against two nodes on Redis and WORKERS=2 (bench/cluster-plan.ts), then
 * whether a second node adds capacity, on one Redis and on a Redis Cluster of three masters:
 * node A's rooms against one node alone, and each node serving half the rooms against one
 * process serving all (bench/capacity-plan.ts, its rows bench/capacity-rows.ts); prints the
 * results table on stdout, and writes it with every trial's numbers as JSON, Markdown and
 * an SVG chart under DIR (bench/results by default). Progress goes to stderr. Exits 1 if
 * any trial failed, any expected delivery (a storm probe included) went missing or any
 * reached a client of another room; a missed speed target is a result, not a failure. The cluster and
 * capacity parts need redis-server (the capacity part redis-cli as well, for its Redis Cluster):
 * without it, a full run leaves them out with a warning, and `--only cluster` or `--only
 * capacity` fails. `--only versions --against DIR` runs this checkout's server
 * against the one of another checkout (with its node_modules), alternated
 * (bench/versions-plan.ts): a change held to no row more than 10% worse. `--only c100k`
 * holds idle clients on ours as one node of several workers (the issue's 100000; as many
 * as this machine allows in the full profile, see bench/profiles.ts), then sends a
 * message per room per second (bench/c100k-plan.ts); never part of the full run: it takes
 * minutes and several GiB of memory.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REDIS_CLI, REDIS_CLI_MISSING } from '../tools/redis-cluster-process';
import { REDIS_MISSING, REDIS_SERVER } from '../tools/redis-process';
import { hasTaskset } from './child-link';
import { capacitySteps, runCapacityPlan } from './capacity-plan';
import { buildCapacityRows, capacityNote } from './capacity-rows';
import { buildClusterRows, CLUSTER_STEPS, runClusterPlan } from './cluster-plan';
import { buildC100kRows, C100K_STEPS, c100kNote, runC100kPlan } from './c100k-plan';
import { buildHooksRows, hooksNote, hooksSteps, runHooksPlan } from './hooks-plan';
import { runPlan, SINGLE_PROCESS_STEPS, stepCounter } from './plan';
import { buildRows } from './single-rows';
import { PROFILES, type Profile } from './profiles';
import { useOtherCheckout } from './server-side';
import { buildStoreRows, runStorePlan, storeSteps } from './store-plan';
import { bansSteps, buildBansRows, runBansPlan } from './bans-plan';
import { buildWorkloadRows, runWorkloadPlan, workloadNote, workloadSteps } from './workload-plan';
import { buildVersionsRows, describeCheckout, runVersionsPlan, versionsSteps } from './versions-plan';
import { svgChart } from './report/chart';
import { markdownTable } from './report/table';

type Part = 'single' | 'hooks' | 'rooms' | 'store' | 'cluster' | 'capacity' | 'versions' | 'bans' | 'c100k';
const PARTS: readonly Part[] = ['single', 'hooks', 'rooms', 'store', 'cluster', 'capacity', 'versions', 'bans', 'c100k'];
/** Why `part` cannot run here (a program it starts is not installed), or null. */
function missingFor(part: Part): string | null {
  if (part !== 'cluster' && part !== 'capacity') return null;
  if (REDIS_SERVER === null) return REDIS_MISSING;
  // The capacity part also runs two nodes on a Redis Cluster, whose nodes redis-cli joins.
  return part === 'capacity' && REDIS_CLI === null ? REDIS_CLI_MISSING : null;
}

interface Options {
  profile: Profile;
  /** Only this part of the plan; both when null. */
  only: Part | null;
  outDir: string;
  /** Another checkout of this project (with its node_modules), for `--only versions`. */
  against: string | null;
}

const USAGE = 'usage: run.ts [--quick | --tiny] [--only single|hooks|rooms|store|cluster|capacity|bans] [--only versions --against DIR] [--only c100k (not in the full run: minutes, several GiB)] [--out DIR]';

function parseArgs(argv: readonly string[]): Options {
  let profile = PROFILES.full;
  let only: Part | null = null;
  let outDir = path.join(__dirname, 'results');
  let against: string | null = null;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const next = argv[i + 1];
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg === '--quick') profile = PROFILES.quick;
    else if (arg === '--tiny') profile = PROFILES.tiny;
    else if (arg === '--only' && PARTS.includes(next as Part)) {
      only = next as Part;
      i += 1;
    } else if (arg === '--out' && next !== undefined) {
      outDir = path.resolve(next);
      i += 1;
    } else if (arg === '--against' && next !== undefined) {
      against = path.resolve(next);
      i += 1;
    } else throw new Error(`unknown argument "${arg}"; ${USAGE}`);
  }
  if ((only === 'versions') !== (against !== null)) throw new Error(`--only versions and --against DIR go together; ${USAGE}`);
  return { profile, only, outDir, against };
}

/** Which parts run: the cluster and capacity parts only where a redis-server (and for the capacity part's Redis Cluster, redis-cli) can be started. */
function partsToRun(only: Part | null, log: (line: string) => void): Record<Part, boolean> {
  // The versions part runs only when asked for: it needs another checkout; so does the
  // c100k part: it takes minutes and several GiB.
  const parts: Record<Part, boolean> = { single: true, hooks: true, rooms: true, store: true, cluster: true, capacity: true, versions: false, bans: true, c100k: false };
  if (only !== null) for (const part of PARTS) parts[part] = part === only;
  // The hooks' rows belong to the single-process part; `--only hooks` runs them alone.
  if (only === 'single') parts.hooks = true;
  for (const part of PARTS) {
    const missing = missingFor(part);
    if (missing === null || !parts[part]) continue;
    if (only === part) throw new Error(`the ${part} part needs Redis: ${missing}`);
    log(`warning: leaving out the ${part} part (two nodes on Redis): ${missing}`);
    parts[part] = false;
  }
  return parts;
}

/** The machine as the results need it described, read before and after the run. */
function describeMachine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    taskset: hasTaskset,
    // What the children get: the soft limit is raised to this before they start.
    fileDescriptorLimit: Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || null,
  };
}

/** Under the table: which store the rows measured. */
const STORE_NOTE =
  'Ours runs with its default store, SQLite (one transaction per event-loop turn), in a fresh temporary DATA_DIR per server start; ' +
  'the rows "store on (SQLite)" are held against the same server with DATA_DIR=:memory: (history in memory only), run alternately.';

function checkMachine(profile: Profile, machine: ReturnType<typeof describeMachine>): void {
  if (!machine.taskset) process.stderr.write('warning: no taskset; server and clients are not pinned to separate cores\n');
  if (machine.cpus < 2) process.stderr.write('warning: fewer than 2 cores; server and clients share one\n');
  // Each storm worker holds half the clients; the server holds them all, plus a margin.
  const need = Math.max(profile.stormClients, profile.sioStormClients) + 256;
  const limit = machine.fileDescriptorLimit;
  if (limit !== null && Number.isFinite(limit) && limit < need) {
    throw new Error(`the hard limit on open files is ${limit}; this profile needs ${need} (raise it with ulimit -Hn as root)`);
  }
}

async function main(): Promise<void> {
  const { profile, only, outDir, against } = parseArgs(process.argv.slice(2));
  if (against !== null) useOtherCheckout(against);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const parts = partsToRun(only, log);
  const machine = describeMachine();
  checkMachine(profile, machine);
  const loadBefore = os.loadavg();
  log(`bench ${profile.name}: ${machine.cpus} cores, ${machine.cpuModel}, Node ${machine.node}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  log(`ours runs with its default store, SQLite, in a fresh DATA_DIR under ${os.tmpdir()} per server start, except where a row says DATA_DIR=:memory:`);

  const startedAt = new Date();
  const steps =
    profile.repetitions * ((parts.single ? SINGLE_PROCESS_STEPS : 0) + (parts.cluster ? CLUSTER_STEPS : 0)) +
    (parts.hooks ? hooksSteps(profile) : 0) +
    (parts.rooms ? workloadSteps(profile) : 0) +
    (parts.store ? storeSteps(profile) : 0) +
    (parts.capacity ? capacitySteps(profile) : 0) +
    (parts.versions ? versionsSteps(profile) : 0) +
    (parts.bans ? bansSteps(profile) : 0) +
    (parts.c100k ? C100K_STEPS : 0);
  const timed = stepCounter(steps, log);
  const trials = parts.single ? await runPlan(profile, timed) : null;
  const hooks = parts.hooks ? await runHooksPlan(profile, timed) : null;
  const workload = parts.rooms ? await runWorkloadPlan(profile, timed) : null;
  const store = parts.store ? await runStorePlan(profile, timed) : null;
  const cluster = parts.cluster ? await runClusterPlan(profile, timed) : null;
  const capacity = parts.capacity ? await runCapacityPlan(profile, timed) : null;
  const versions = parts.versions ? await runVersionsPlan(profile, timed) : null;
  const bans = parts.bans ? await runBansPlan(profile, timed) : null;
  const c100k = parts.c100k ? await runC100kPlan(profile, timed) : null;
  const rows = [
    ...(trials === null ? [] : buildRows(trials, profile)),
    ...(hooks === null ? [] : buildHooksRows(hooks, profile)),
    ...(workload === null ? [] : buildWorkloadRows(workload, profile)),
    ...(store === null ? [] : buildStoreRows(store, profile)),
    ...(cluster === null ? [] : buildClusterRows(cluster, profile)),
    ...(capacity === null ? [] : buildCapacityRows(capacity, profile)),
    ...(versions === null || against === null ? [] : buildVersionsRows(versions, profile, describeCheckout(against))),
    ...(bans === null ? [] : buildBansRows(bans)),
    ...(c100k === null ? [] : buildC100kRows(c100k, profile)),
  ];
  const loadAfter = os.loadavg();
  const notes = [
    ...(parts.single || parts.rooms || parts.store || parts.cluster || parts.capacity ? [STORE_NOTE] : []),
    ...(hooks === null ? [] : [hooksNote(hooks)]),
    ...(workload === null ? [] : [workloadNote(workload, profile)]),
    ...(capacity === null ? [] : [capacityNote(capacity, profile)]),
    ...(c100k === null ? [] : [c100kNote(c100k)]),
  ];
  const table = [markdownTable(rows), ...notes].join('\n\n');
  process.stdout.write(`${table}\n`);

  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `bench-${profile.name}${only === null ? '' : `-${only}`}`);
  const results = {
    profile,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    rows,
    dataDirParent: os.tmpdir(),
    trials: { ...trials, hooks, workload, store, cluster, capacity, versions, bans, c100k },
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${table}\n`);
  // Rows of one measured value (no baseline, e.g. C100k's) have no ratio to draw.
  writeFileSync(`${base}.svg`, svgChart(rows.filter((row) => Number.isFinite(row.medianRatio)), `chat-bridge fan-out benchmark (${profile.name}), ${startedAt.toISOString().slice(0, 10)}`));
  log(`wrote ${base}.json, ${base}.md and ${base}.svg; load ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);

  const short = rows.filter((row) => row.delivery.delivered !== row.delivery.expected || row.worstDelivery !== 1);
  if (short.length > 0) {
    log(`missing deliveries in: ${short.map((row) => row.id).join(', ')}`);
    process.exitCode = 1;
  }
  const strayed = rows.filter((row) => (row.delivery.misrouted ?? 0) > 0);
  if (strayed.length > 0) {
    log(`deliveries to the wrong room in: ${strayed.map((row) => row.id).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
