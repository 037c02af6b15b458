/** The sizes of one benchmark run. `full` is the issue's; the others only shrink it. */
export interface Profile {
  name: 'full' | 'quick' | 'tiny';
  /** Alternated pairs (ours, baseline) per comparison. */
  repetitions: number;
  /**
   * Alternated pairs (store on, store off) per room in the store comparison
   * (store-plan.ts). More in the full run than `repetitions`: its target (0.9x) is
   * closer to 1 than the run-to-run noise of three pairs here.
   */
  storeRepetitions: number;
  /** Clients in a room (raw, Socket.IO; the mixed room is half of each). */
  roomClients: number;
  /** Closed-loop senders among them, and the messages each keeps in flight. */
  senders: number;
  window: number;
  fanoutWarmupMs: number;
  fanoutMeasureMs: number;
  /** The fixed rate of the latency probe, messages per second from one sender. */
  latencyRate: number;
  latencyWarmupMs: number;
  latencyMeasureMs: number;
  /** The many small rooms of the workload part (workload-plan.ts), one talker each. */
  manyRooms: { rooms: number; clientsPerRoom: number };
  /** The workload part's fixed human rate: its warm-up, then its measured window. */
  humanRateWarmupMs: number;
  humanRateMeasureMs: number;
  /** Clients in a raw join storm, after which idle memory is read. */
  stormClients: number;
  /**
   * The same for Socket.IO. Smaller in the full run: both servers send N x N packets
   * through engine.io, about half a minute each at 2000 clients here (over a minute on a
   * busy machine), so by N x N some three and a half minutes at 5000, six times over.
   * Both are measured at the same size, so the comparison stays like for like.
   */
  sioStormClients: number;
  /**
   * Quiet time after a storm before the idle memory reading. Long in the full run: a
   * storm's allocation rate grows V8's young generation, which V8 gives back only after
   * several idle seconds; read at once, RSS counted megabytes of empty heap as memory of
   * the connections (measured here: 8.3 KiB reserved heap per connection for 4.1 KiB used
   * one second after the storm, 2.1 KiB reserved twelve seconds after it).
   */
  settleMs: number;
  /** Handshakes each client worker keeps in flight while connecting. */
  connectConcurrency: number;
  /** Give up on a storm or a drain when nothing has arrived for this long. */
  stallMs: number;
  /** Give up on connecting a room or a storm after this long. */
  connectTimeoutMs: number;
  /**
   * The C100k part (c100k-plan.ts, only with `--only c100k`): `rooms` x `clientsPerRoom`
   * idle clients, half raw and half Socket.IO, on ours with WORKERS=`serverWorkers`, held
   * by `clientWorkers` client processes (each under the file limit), then one message per
   * room per second through a warm-up and a measured window. The full run holds fewer
   * than the 100000, and says so in its rows: 100000 sockets need six workers or
   * more under this machine's file limit (20000 per process), all on the server's one
   * core, and each message between workers passes through the primary (BENCHMARKS.md,
   * "C100k"). Four workers is the most that connects and delivers within ten minutes.
   */
  c100k: { rooms: number; clientsPerRoom: number; serverWorkers: number; clientWorkers: number; connectConcurrency: number; warmupMs: number; measureMs: number };
}

export const PROFILES: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    repetitions: 3,
    storeRepetitions: 5,
    roomClients: 1000,
    senders: 10,
    window: 8,
    fanoutWarmupMs: 1_000,
    fanoutMeasureMs: 5_000,
    latencyRate: 100,
    latencyWarmupMs: 1_000,
    latencyMeasureMs: 10_000,
    manyRooms: { rooms: 100, clientsPerRoom: 10 },
    humanRateWarmupMs: 2_000,
    humanRateMeasureMs: 20_000,
    stormClients: 5000,
    sioStormClients: 2000,
    settleMs: 15_000,
    connectConcurrency: 100,
    stallMs: 30_000,
    connectTimeoutMs: 1_200_000,
    c100k: { rooms: 1000, clientsPerRoom: 64, serverWorkers: 4, clientWorkers: 8, connectConcurrency: 40, warmupMs: 5_000, measureMs: 30_000 },
  },
  // About a minute here: one pair per comparison and short windows, enough to see every
  // row run and every delivery counted, not to judge a target (see BENCHMARKS.md).
  quick: {
    name: 'quick',
    repetitions: 1,
    storeRepetitions: 1,
    roomClients: 200,
    senders: 4,
    window: 8,
    fanoutWarmupMs: 100,
    fanoutMeasureMs: 250,
    latencyRate: 100,
    latencyWarmupMs: 50,
    latencyMeasureMs: 150,
    manyRooms: { rooms: 20, clientsPerRoom: 10 },
    humanRateWarmupMs: 200,
    humanRateMeasureMs: 1_000,
    stormClients: 300,
    sioStormClients: 150,
    settleMs: 200,
    connectConcurrency: 100,
    stallMs: 10_000,
    connectTimeoutMs: 60_000,
    c100k: { rooms: 100, clientsPerRoom: 20, serverWorkers: 2, clientWorkers: 4, connectConcurrency: 20, warmupMs: 1_000, measureMs: 5_000 },
  },
  tiny: {
    name: 'tiny',
    repetitions: 1,
    storeRepetitions: 1,
    roomClients: 20,
    senders: 2,
    window: 4,
    fanoutWarmupMs: 100,
    fanoutMeasureMs: 200,
    latencyRate: 100,
    latencyWarmupMs: 50,
    latencyMeasureMs: 200,
    manyRooms: { rooms: 4, clientsPerRoom: 5 },
    humanRateWarmupMs: 100,
    humanRateMeasureMs: 300,
    stormClients: 50,
    sioStormClients: 30,
    settleMs: 50,
    connectConcurrency: 25,
    stallMs: 5_000,
    connectTimeoutMs: 20_000,
    c100k: { rooms: 10, clientsPerRoom: 4, serverWorkers: 2, clientWorkers: 2, connectConcurrency: 10, warmupMs: 200, measureMs: 1_000 },
  },
};
