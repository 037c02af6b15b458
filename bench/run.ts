/**
 * `npm run bench [-- --quick | --tiny] [-- --out DIR]`: runs our server and the bare
 * baselines side by side (bench/plan.ts), prints the results table on stdout, and writes
 * it with every trial's numbers as JSON, Markdown and an SVG chart under DIR
 * (bench/results by default). Progress goes to stderr. Exits 1 if any trial failed or
 * any expected delivery went missing; a missed speed target is a result, not a failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasTaskset } from './child-link';
import { buildRows, runPlan } from './plan';
import { PROFILES, type Profile } from './profiles';
import { svgChart } from './report/chart';
import { markdownTable } from './report/table';

interface Options {
  profile: Profile;
  outDir: string;
}

function parseArgs(argv: readonly string[]): Options {
  let profile = PROFILES.full;
  let outDir = path.join(__dirname, 'results');
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') profile = PROFILES.quick;
    else if (arg === '--tiny') profile = PROFILES.tiny;
    else if (arg === '--out' && argv[i + 1] !== undefined) outDir = path.resolve(argv[(i += 1)] as string);
    else throw new Error(`unknown argument "${arg}"; usage: run.ts [--quick | --tiny] [--out DIR]`);
  }
  return { profile, outDir };
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
  const { profile, outDir } = parseArgs(process.argv.slice(2));
  const machine = describeMachine();
  checkMachine(profile, machine);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const loadBefore = os.loadavg();
  log(`bench ${profile.name}: ${machine.cpus} cores, ${machine.cpuModel}, Node ${machine.node}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);

  const startedAt = new Date();
  const trials = await runPlan(profile, log);
  const rows = buildRows(trials, profile);
  const loadAfter = os.loadavg();
  const table = markdownTable(rows);
  process.stdout.write(`${table}\n`);

  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `bench-${profile.name}`);
  const results = {
    profile,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
    rows,
    trials,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${table}\n`);
  writeFileSync(`${base}.svg`, svgChart(rows, `chat-bridge fan-out benchmark (${profile.name}), ${startedAt.toISOString().slice(0, 10)}`));
  log(`wrote ${base}.json, ${base}.md and ${base}.svg; load ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);

  const short = rows.filter((row) => row.delivery.delivered !== row.delivery.expected || row.worstDelivery !== 1);
  if (short.length > 0) {
    log(`missing deliveries in: ${short.map((row) => row.id).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
