/**
 * Readings of every process of a server under test, for `each-process` requests (ipc.ts):
 * the process the orchestrator started answers for itself, and a primary of WORKERS > 1
 * also asks each of its workers over node:cluster's IPC channel, the only way to reach
 * them (a request through the port goes to whichever worker the balancer picks). Its own
 * messages carry a type of their own, which the server's listeners on that channel
 * (sticky, the cluster adapter) pass over.
 */
import cluster, { type Worker } from 'node:cluster';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MemoryReading, ProcessReading, ProcessReadingKind } from './ipc';

const ASK = 'bench:reading';
const ANSWER = 'bench:reading-answer';
const WORKER_TIMEOUT_MS = 60_000;
/** How often the event loop is sampled while recording: finer than any lag worth reporting. */
const LOOP_RESOLUTION_MS = 5;
const NS_PER_MS = 1e6;

interface Ask {
  type: typeof ASK;
  id: number;
  kind: ProcessReadingKind;
}

interface Answer {
  type: typeof ANSWER;
  id: number;
  reading: ProcessReading;
}

/** Recording from the first `loop-start` on; never before, so other trials pay nothing for it. */
let loopDelay: IntervalHistogram | null = null;

/** The server process's memory after a full collection (run with --expose-gc). */
export function collectedMemory(): MemoryReading {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('server process needs --expose-gc');
  // Twice: the first collection may leave weakly held objects for the second.
  gc();
  gc();
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external };
}

function readOwn(kind: ProcessReadingKind): ProcessReading {
  switch (kind) {
    case 'memory':
      return { pid: process.pid, memory: collectedMemory() };
    case 'loop-start':
      loopDelay ??= monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      loopDelay.enable();
      loopDelay.reset();
      return { pid: process.pid };
    case 'loop': {
      if (loopDelay === null) throw new Error('no loop-start before loop');
      const loop = { p99Ms: loopDelay.percentile(99) / NS_PER_MS, maxMs: loopDelay.max / NS_PER_MS };
      loopDelay.reset();
      return { pid: process.pid, loop };
    }
  }
}

let nextId = 1;

function askWorker(worker: Worker, kind: ProcessReadingKind): Promise<ProcessReading> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off('message', onMessage);
      reject(new Error(`worker ${worker.process.pid}: no ${kind} reading within ${WORKER_TIMEOUT_MS} ms`));
    }, WORKER_TIMEOUT_MS);
    const onMessage = (message: Partial<Answer> | null) => {
      if (message?.type !== ANSWER || message.id !== id) return;
      worker.off('message', onMessage);
      clearTimeout(timer);
      resolve(message.reading as ProcessReading);
    };
    worker.on('message', onMessage);
    worker.send({ type: ASK, id, kind } satisfies Ask);
  });
}

/** This process's reading, then each of its workers' (none unless it is a primary). */
export async function readEachProcess(kind: ProcessReadingKind): Promise<ProcessReading[]> {
  const own = readOwn(kind);
  const workers = cluster.isPrimary ? Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined) : [];
  // One at a time: each worker's collection then has the shared core to itself.
  const readings = [own];
  for (const worker of workers) readings.push(await askWorker(worker, kind));
  return readings;
}

/** In a forked worker: answers its primary's asks. */
export function answerPrimary(): void {
  process.on('message', (message: Partial<Ask> | null) => {
    if (message?.type !== ASK || message.kind === undefined) return;
    process.send?.({ type: ANSWER, id: message.id as number, reading: readOwn(message.kind) } satisfies Answer);
  });
}
