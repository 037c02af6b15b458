import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import type { Ban } from '../server/protocol';
import { SqliteBanStore } from '../server/store/sqlite-ban-store';
import { createLogger } from '../server/support/logger';
import type { Timed } from './plan';
import type { Profile } from './profiles';
import { finish, type Measure, type Row } from './rows';
import { startServerSide, useBanFile } from './server-side';

/**
 * Handshakes with many bans against none (issue #22): the server is started with a
 * moderation.sqlite holding BAN_COUNT bans (users and addresses nobody here has), or with
 * none, and raw clients open and close as fast as HANDSHAKE_CONCURRENCY at a time allows.
 * A ban check on the handshake path is two map lookups however many bans there are; this
 * measures it. A banned user reconnecting in a loop is measured too: each refusal (HTTP
 * 403) against an accepted handshake with no bans.
 */
export const BAN_COUNT = 100_000;
const HANDSHAKES = 3_000;
const HANDSHAKE_CONCURRENCY = 32;
const START_TIMEOUT_MS = 60_000;
/** Among the bans: this user, whose handshakes are refused. */
const BANNED_USER = 'banned-7';

export interface BanTrials {
  none: HandshakeResult[];
  many: HandshakeResult[];
  refused: HandshakeResult[];
}

export interface HandshakeResult {
  perSecond: number;
  /** Handshakes that ended as expected (accepted, or refused with 403), of `expected`. */
  done: number;
  expected: number;
}

export function bansSteps(profile: Profile): number {
  return 3 * profile.storeRepetitions;
}

/** A moderation.sqlite with BAN_COUNT bans, half by user and half by address, in a directory of its own. */
async function banFile(): Promise<{ file: string; remove: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chat-bridge-bench-bans-'));
  const store = new SqliteBanStore({ dir, logger: createLogger('silent') });
  const at = Date.now();
  for (let i = 0; i < BAN_COUNT; i += 1) {
    const who = i % 2 === 0 ? { user: `banned-${i + 1}` } : { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
    const ban: Ban = { id: `${at.toString(36)}-${String(i).padStart(6, '0')}`, kind: 'ban', room: null, until: null, reason: 'bench', at, by: 'bench', ...who };
    await store.add(ban);
  }
  await store.close();
  return { file: path.join(dir, 'moderation.sqlite'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** HANDSHAKES raw handshakes as `name`, HANDSHAKE_CONCURRENCY at a time; each closed once open (or refused). */
async function handshakes(url: string, name: string, refused: boolean): Promise<HandshakeResult> {
  const target = `${url.replace('http', 'ws')}/socket?name=${encodeURIComponent(name)}`;
  let started = 0;
  let done = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(target, { perMessageDeflate: false });
      ws.on('open', () => {
        if (!refused) done += 1;
        ws.terminate();
        resolve();
      });
      ws.on('unexpected-response', (_req, res) => {
        if (refused && res.statusCode === 403) done += 1;
        res.resume();
        ws.terminate();
        resolve();
      });
      ws.on('error', () => resolve());
    });
  const lane = async () => {
    while (started < HANDSHAKES) {
      started += 1;
      await one();
    }
  };
  const from = performance.now();
  await Promise.all(Array.from({ length: HANDSHAKE_CONCURRENCY }, lane));
  const seconds = (performance.now() - from) / 1000;
  return { perSecond: HANDSHAKES / seconds, done, expected: HANDSHAKES };
}

async function trial(setup: 'ours' | 'ours-bans', name: string, refused: boolean): Promise<HandshakeResult> {
  const side = await startServerSide(setup, START_TIMEOUT_MS);
  try {
    return await handshakes(side.urls[0] as string, name, refused);
  } finally {
    await side.stop();
  }
}

const line = (r: HandshakeResult) => `${Math.round(r.perSecond)} handshakes/s, ${r.done} of ${r.expected} as expected`;

/** No bans, many bans, a banned user, in turn, `profile.storeRepetitions` times. */
export async function runBansPlan(profile: Profile, timed: Timed): Promise<BanTrials> {
  const prepared = await banFile();
  useBanFile(prepared.file);
  const trials: BanTrials = { none: [], many: [], refused: [] };
  try {
    for (let r = 1; r <= profile.storeRepetitions; r += 1) {
      trials.none.push(await timed(`handshakes, no bans, run ${r}`, () => trial('ours', 'guest', false), line));
      trials.many.push(await timed(`handshakes, ${BAN_COUNT} bans, run ${r}`, () => trial('ours-bans', 'guest', false), line));
      trials.refused.push(await timed(`handshakes of a banned user, ${BAN_COUNT} bans, run ${r}`, () => trial('ours-bans', BANNED_USER, true), line));
    }
  } finally {
    prepared.remove();
  }
  return trials;
}

const delivery = (r: HandshakeResult) => ({ delivered: r.done, expected: r.expected });

export function buildBansRows(trials: BanTrials): Row[] {
  const rate = (id: string, label: string, target: Measure<HandshakeResult>['target']): Measure<HandshakeResult> => ({
    id,
    label,
    unit: 'handshakes/s',
    better: 'higher',
    target,
    value: (r) => r.perSecond,
    delivery,
  });
  const pair = (measure: Measure<HandshakeResult>, against: string, ours: HandshakeResult[], baseline: HandshakeResult[]) =>
    finish(
      measure,
      against,
      ours.map(measure.value),
      baseline.map(measure.value),
      ours.map((r, i) => measure.value(r) / measure.value(baseline[i] as HandshakeResult)),
      [...ours, ...baseline].map(delivery),
    );
  return [
    pair(rate('bans-handshakes', `Raw handshakes with ${BAN_COUNT} bans (none of them ours)`, { ratio: 0.9 }), 'ours, no bans', trials.many, trials.none),
    pair(rate('bans-refusals', `Refused handshakes of a banned user (HTTP 403), ${BAN_COUNT} bans`, null), 'accepted handshakes, no bans', trials.refused, trials.none),
  ];
}
