/**
 * The durable store's promises, proved with real processes on a real DATA_DIR: history
 * survives a restart and a `kill -9`, and ids keep increasing across restarts.
 */
import type { RawJsonFrame } from '../server/protocol';
import { SqliteStore } from '../server/store/sqlite-store';
import { createLogger } from '../server/support/logger';
import { compareIds } from '../server/store/message-id';
import { freshDataDir } from './support/data-dir';
import { connectSio } from './support/sio-client';
import { spawnServer } from './support/spawn-server';
import { chatsOf, nextChat, rawJson, rawSend, sioSend, stop, textsOf } from './support/stored-chat';

// Each test starts up to three server processes one after the other (each compiles with
// tsx at start): well over Jest's default on a loaded CI machine running two files at once.
jest.setTimeout(60_000);

describe('durable history (SQLite under DATA_DIR)', () => {
  // Fault simulated: an ordinary restart (deploy, reboot) of the server process.
  it('keeps every room’s history across a restart, for Socket.IO history and raw ?since= replay', async () => {
    const dataDir = freshDataDir();
    const first = await spawnServer({ DATA_DIR: dataDir });
    const lobbyRaw = await rawJson(first.url);
    const lobbySio = await connectSio(first.url);
    const teamRaw = await rawJson(first.url, 'team-a');
    const teamSio = await connectSio(first.url, { room: 'team-a' });

    const lobby: { id: string; text: string }[] = [];
    const team: { id: string; text: string }[] = [];
    for (let i = 1; i <= 2; i += 1) {
      lobby.push({ text: `lobby raw ${i}`, id: await rawSend(lobbyRaw, `lobby raw ${i}`) });
      lobby.push({ text: `lobby sio ${i}`, id: await sioSend(lobbySio, `lobby sio ${i}`) });
      team.push({ text: `team raw ${i}`, id: await rawSend(teamRaw, `team raw ${i}`) });
      team.push({ text: `team sio ${i}`, id: await sioSend(teamSio, `team sio ${i}`) });
    }
    await stop(first);

    const second = await spawnServer({ DATA_DIR: dataDir });
    const lobbyNewcomer = await connectSio(second.url);
    expect(chatsOf(await lobbyNewcomer.histories.next()).map(({ id, text }) => ({ id, text }))).toEqual(lobby);
    const teamNewcomer = await connectSio(second.url, { room: 'team-a' });
    expect(chatsOf(await teamNewcomer.histories.next()).map(({ id, text }) => ({ id, text }))).toEqual(team);

    // Resuming after the first lobby message: the three later ones, then live traffic
    // (its own join notice), and nothing of team-a.
    const resumed = await rawJson(second.url, undefined, (lobby[0] as { id: string }).id);
    const replayed: RawJsonFrame[] = [];
    for (let i = 0; i < 4; i += 1) replayed.push(await resumed.nextJson());
    expect(replayed.slice(0, 3).map((f) => (f.type === 'chat' ? { id: f.id, text: f.text } : f))).toEqual(lobby.slice(1));
    expect(replayed[3]).toMatchObject({ type: 'notice', kind: 'join' });

    const newest = [...lobby, ...team].map((m) => m.id).sort(compareIds).at(-1) as string;
    expect(compareIds(await sioSend(lobbyNewcomer, 'after restart'), newest)).toBeGreaterThan(0);
    expect(compareIds(await rawSend(await rawJson(second.url, 'team-a'), 'team after restart'), newest)).toBeGreaterThan(0);
  });

  // Fault simulated: the process killed outright (OOM killer, kill -9, a crash) right
  // after acking: whatever a sender was told is stored must be there after a restart.
  it('loses nothing that was acked when the process is killed with SIGKILL', async () => {
    const dataDir = freshDataDir();
    const env = { DATA_DIR: dataDir, HISTORY_SIZE: '500', RATE_LIMIT: '0' };
    const first = await spawnServer(env);
    const sio = await connectSio(first.url);
    const raw = await rawJson(first.url);
    const acked: string[] = [];
    for (let i = 0; i < 220; i += 1) {
      acked.push(await sioSend(sio, `sio ${i}`));
      if (i % 10 === 5) acked.push(await rawSend(raw, `raw ${i}`));
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(acked.length).toBeGreaterThanOrEqual(240);

    const second = await spawnServer(env);
    const history = await (await connectSio(second.url)).histories.next();
    expect(history.map((m) => m.id)).toEqual(acked);

    const resumed = await rawJson(second.url, undefined, acked[0]);
    const replayed: string[] = [];
    for (let i = 1; i < acked.length; i += 1) replayed.push((await nextChat(resumed)).id);
    expect(replayed).toEqual(acked.slice(1));
    expect(textsOf(history).filter((t) => t?.startsWith('raw') === true).length).toBe(22);
  });

  // Fault simulated: the system clock stepped back between two runs (NTP correction, a
  // restored VM snapshot): the newest stored id is then "in the future".
  it('hands out ids greater than every stored one even when the clock is behind the newest stored id', async () => {
    const dataDir = freshDataDir();
    // An earlier run whose clock was ten years ahead stored messages in two rooms, in one
    // commit: the store itself, in this process, with that clock.
    const future = Date.now() + 10 * 365 * 24 * 3600 * 1000;
    const ahead = new SqliteStore({ dir: dataDir, keep: 10_000, logger: createLogger('silent'), now: () => future });
    const stored = (room: string, text: string) =>
      new Promise<string>((resolve, reject) => ahead.append(room, 'Time traveller', text, (err, message) => (message === null ? reject(err) : resolve(message.id))));
    const futureIds = await Promise.all([stored('lobby', 'from the future'), stored('team-a', 'elsewhere'), stored('lobby', 'the newest')]);
    ahead.close();
    expect(futureIds).toEqual([`${future}-0`, `${future}-1`, `${future}-2`]);
    const futureId = futureIds[2] as string;

    const server = await spawnServer({ DATA_DIR: dataDir });
    const sio = await connectSio(server.url);
    expect((await sio.histories.next()).map((m) => m.id)).toEqual([futureIds[0], futureId]);
    const first = await sioSend(sio, 'now');
    expect(compareIds(first, futureId)).toBeGreaterThan(0);
    const raw = await rawJson(server.url, 'team-a');
    const second = await rawSend(raw, 'now, elsewhere');
    expect(compareIds(second, first)).toBeGreaterThan(0);

    // And again after a restart: the ids the clock-behind server handed out were stored.
    await stop(server);
    const again = await spawnServer({ DATA_DIR: dataDir });
    const third = await sioSend(await connectSio(again.url), 'later');
    expect(compareIds(third, second)).toBeGreaterThan(0);
  });
});
