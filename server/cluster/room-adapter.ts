/**
 * The Socket.IO adapter for several nodes on Redis, one namespace (a room) at a time: a
 * node hears a namespace's broadcasts only while the namespace exists on it, so it pays
 * nothing for rooms it does not serve. It follows @socket.io/redis-streams-adapter (MIT),
 * whose sessions and missed packets it keeps in Redis for connection state recovery, with
 * one change: that adapter writes every namespace's broadcasts to one stream that every
 * node reads, this one gives each namespace a stream of its own, written for recovery
 * only, and carries the broadcasts live on the namespace's channel.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { Namespace } from 'socket.io';
import {
  Adapter,
  ClusterAdapter,
  MessageType,
  type BroadcastOptions,
  type ClusterMessage,
  type ClusterResponse,
  type Offset,
  type PrivateSessionId,
  type Room,
  type Session,
  type SocketId,
} from 'socket.io-adapter';
import { compareIds } from '../store/message-id';
import { decodeMessage, encodeMessage } from './adapter-codec';
import { OwnBroadcasts } from './own-broadcasts';
import { Recoveries } from './recoveries';

/** What Socket.IO stores of a session (socket.io-adapter does not export its name for it). */
type SessionToPersist = Omit<Session, 'missedPackets'>;

/**
 * What the adapter uses of a node-redis client that runs commands. On a Redis Cluster,
 * `publish` and `subscriberCount` are the sharded ones (SPUBLISH, PUBSUB SHARDNUMSUB), sent
 * to the node holding the channel's slot.
 */
export interface AdapterClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  getDel(key: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
  xRange(key: string, start: string, end: string, options?: { COUNT: number }): Promise<{ id: string; message: Record<string, string> }[] | null>;
  /** How many connections subscribe to `channel` (PUBSUB NUMSUB). */
  subscriberCount(channel: string): Promise<number>;
}

/**
 * What it uses of a subscribed one (node-redis subscribes it again after an outage);
 * `bufferMode`: messages as Buffers. On a Redis Cluster, SSUBSCRIBE.
 */
export interface AdapterSubscriber {
  subscribe<T extends boolean = false>(channel: string, listener: (message: T extends true ? Buffer : string) => unknown, bufferMode?: T): Promise<void>;
  unsubscribe<T extends boolean = false>(channel: string, listener: (message: T extends true ? Buffer : string) => unknown, bufferMode?: T): Promise<void>;
}

export interface RoomAdapterOptions {
  /** Entries a namespace's stream keeps at most (roughly: MAXLEN ~). */
  maxLen?: number;
  /** A Redis Cluster's sharded pub/sub: each namespace's channels on the node holding its slot. */
  sharded?: boolean;
}

/** A broadcast as Socket.IO hands it to the adapter. */
interface Broadcast {
  packet: { type: number; data: unknown[]; id?: number };
  opts: BroadcastOptions;
}

/** Socket.IO's connection state recovery window: a namespace's stream lives this long after its last broadcast. */
function recoveryWindowMs(nsp: Namespace): number {
  // `opts` is private in the types, public at run time (the streams adapter reads it too).
  const opts = (nsp.server as unknown as { opts: { connectionStateRecovery?: { maxDisconnectionDuration?: number } } }).opts;
  return opts.connectionStateRecovery?.maxDisconnectionDuration ?? 120_000;
}

/**
 * A namespace's stream keeps about this many broadcasts: a client that missed more is not
 * recovered (it gets the room's history instead), and Redis holds at most this many per
 * room for two minutes after its last broadcast.
 */
const DEFAULT_MAX_LEN = 1_000;
/** How many pages of missed packets a recovery reads at most (those of a far busier room are left to history). */
const RESTORE_MAX_PAGES = 100;
const RESTORE_PAGE = 1_000;

/**
 * Stores a broadcast in its namespace's stream and publishes it, as `<sender> <id>
 * <message>`, on the namespace's channel, in one step: the id (the recovery offset) is
 * known only here, and live and stored stay in one order. The sender comes first so that
 * a node knows its own broadcasts, which it hears too, without parsing them. KEYS: the
 * stream. ARGV: MAXLEN, the window (ms), the channel, the sender's uid, the message (JSON).
 */
const logScript = (publish: 'PUBLISH' | 'SPUBLISH') => `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('${publish}', ARGV[3], ARGV[4] .. ' ' .. id .. ' ' .. ARGV[5])
return id`;
const LOG_SCRIPT = logScript('PUBLISH');
/** On a Redis Cluster: the channel shares the stream's slot (the namespace's hash tag). */
const SHARDED_LOG_SCRIPT = logScript('SPUBLISH');

/** Messages with an answer to wait for, or none worth keeping: on the channel only, never stored. */
function isEphemeral(message: ClusterMessage): boolean {
  if (message.type === MessageType.BROADCAST) return message.data.requestId !== undefined;
  return message.type !== MessageType.SOCKETS_JOIN && message.type !== MessageType.SOCKETS_LEAVE && message.type !== MessageType.DISCONNECT_SOCKETS;
}

/** The adapter factory for `io.adapter()`: one RoomAdapter per namespace. */
export function createRoomAdapter(client: AdapterClient, subscriber: AdapterSubscriber, options: RoomAdapterOptions = {}) {
  // Socket.IO calls it with `new`: a function, not an arrow.
  return function roomAdapter(nsp: Namespace): RoomAdapter {
    return new RoomAdapter(nsp, client, subscriber, options);
  };
}

export class RoomAdapter extends ClusterAdapter {
  /** Resolves once this node hears the namespace (or subscribing failed). */
  readonly ready: Promise<void>;
  private readonly stream: string;
  private readonly publicChannel: string;
  private readonly privateChannel: string;
  private readonly logChannel: string;
  private readonly maxLen: number;
  private readonly windowMs: number;
  private readonly logScript: string;
  /**
   * The private id of each socket connected to the namespace here, whose session is kept
   * in Redis while it is connected, not only once it has gone: a node killed outright
   * (kill -9) says nothing at the end, and its clients recover on another node all the same.
   */
  private readonly live = new Map<SocketId, PrivateSessionId>();
  /** Sockets whose session Socket.IO has just stored on a disconnect that may be recovered. */
  private readonly persisted = new Set<SocketId>();
  private renewal: NodeJS.Timeout | null = null;
  /** This node's broadcasts on their way back on the channel. */
  private readonly own: OwnBroadcasts<Broadcast>;
  private readonly recoveries = new Recoveries();

  constructor(
    nsp: Namespace,
    private readonly client: AdapterClient,
    private readonly subscriber: AdapterSubscriber,
    options: RoomAdapterOptions,
  ) {
    super(nsp);
    // The namespace in a hash tag: its stream and channels would share a Redis Cluster slot.
    const base = `socket.io#{${nsp.name}}#`;
    this.stream = `${base}log`;
    this.publicChannel = base;
    this.privateChannel = `${base}${this.uid}#`;
    this.logChannel = `${base}live`;
    this.maxLen = options.maxLen ?? DEFAULT_MAX_LEN;
    this.windowMs = recoveryWindowMs(nsp);
    this.logScript = options.sharded === true ? SHARDED_LOG_SCRIPT : LOG_SCRIPT;
    this.own = new OwnBroadcasts(this.handOn);
    this.ready = Promise.all([
      subscriber.subscribe(this.publicChannel, this.onEphemeral, true),
      subscriber.subscribe(this.privateChannel, this.onEphemeral, true),
      subscriber.subscribe(this.logChannel, this.onLogged),
    ]).then(() => undefined, () => undefined);
  }

  override close(): void {
    if (this.renewal !== null) clearInterval(this.renewal);
    this.own.close();
    const gone = () => undefined;
    this.subscriber.unsubscribe(this.publicChannel, this.onEphemeral, true).catch(gone);
    this.subscriber.unsubscribe(this.privateChannel, this.onEphemeral, true).catch(gone);
    this.subscriber.unsubscribe(this.logChannel, this.onLogged).catch(gone);
    super.close();
  }

  /**
   * As ClusterAdapter's, but this node's clients get the broadcast when it comes back on
   * the channel (own-broadcasts.ts), not when Redis answers its script.
   */
  override async broadcast(packet: Broadcast['packet'], opts: BroadcastOptions): Promise<void> {
    if (opts.flags?.local === true) return super.broadcast(packet, opts);
    const { own } = this;
    const message = {
      uid: this.uid,
      nsp: this.nsp.name,
      type: MessageType.BROADCAST,
      data: { packet, opts: { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags } },
    } as ClusterMessage;
    const json = encodeMessage(message);
    const sent = own.sent(json, { packet, opts });
    try {
      own.answered(sent, await this.log(json));
    } catch {
      own.failed(sent);
    }
  }

  protected override doPublish(message: ClusterMessage): Promise<Offset> {
    if (isEphemeral(message)) {
      return this.client.publish(this.publicChannel, Buffer.from(encode(message))).then(() => '');
    }
    return this.log(encodeMessage(message));
  }

  /** Stores `json` in the namespace's stream and publishes it on its channel; answers its id. */
  private log(json: string): Promise<string> {
    return this.client.eval(this.logScript, { keys: [this.stream], arguments: [String(this.maxLen), String(this.windowMs), this.logChannel, this.uid, json] }).then(String);
  }

  /** Hands a broadcast to this node's clients, with its id as their recovery offset (none when its script failed). */
  private readonly handOn = ({ packet, opts }: Broadcast, id: string | null): void => {
    if (id === null) {
      Adapter.prototype.broadcast.call(this, packet, opts);
      return;
    }
    const recovered = this.recoveries.gotFromRecovery(id);
    const audience = recovered.length === 0 ? opts : { ...opts, except: new Set([...(opts.except ?? []), ...recovered]) };
    // ClusterAdapter's own, private in its types: the offset goes only where Socket.IO would put it.
    (this as unknown as { addOffsetIfNecessary(packet: unknown, opts: BroadcastOptions, id: string): void }).addOffsetIfNecessary(packet, audience, id);
    Adapter.prototype.broadcast.call(this, packet, audience);
  };

  protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    const channel = `socket.io#{${this.nsp.name}}#${requesterUid}#`;
    return this.client.publish(channel, Buffer.from(encode(response))).then(() => undefined);
  }

  override serverCount(): Promise<number> {
    return this.client.subscriberCount(this.publicChannel);
  }

  /** A socket joins its own room as it connects: from then on its session is kept (live). */
  override addAll(id: SocketId, rooms: Set<Room>): void {
    super.addAll(id, rooms);
    if (!rooms.has(id) || this.live.has(id)) return;
    const pid = (this.nsp.sockets.get(id) as unknown as { pid?: PrivateSessionId } | undefined)?.pid;
    if (pid === undefined) return;
    this.live.set(id, pid);
    // After this turn's broadcasts (its history, presence and join), not in front of them
    // on the connection, where it would hold them back.
    setImmediate(() => {
      if (this.live.get(id) === pid) this.keepSession(id, pid);
    });
    // Renewed before it lapses, while the socket stays: a session lives one recovery window.
    this.renewal ??= setInterval(() => this.live.forEach((p, sid) => this.keepSession(sid, p)), this.windowMs / 2).unref();
  }

  /** A socket leaves every room as it goes: its session stays only if Socket.IO has just stored it for recovery. */
  override delAll(id: SocketId): void {
    super.delAll(id);
    this.recoveries.forget(id);
    const pid = this.live.get(id);
    if (pid === undefined) return;
    this.live.delete(id);
    if (!this.persisted.delete(id)) this.client.del(this.sessionKey(pid)).catch(() => undefined);
    if (this.live.size === 0 && this.renewal !== null) {
      clearInterval(this.renewal);
      this.renewal = null;
    }
  }

  override persistSession(session: SessionToPersist): void {
    if (this.live.has(session.sid)) this.persisted.add(session.sid);
    this.storeSession(session);
  }

  /**
   * What the client missed after `offset`, the last broadcast it got: its offsets only
   * went forward (see broadcast). The stream is read once this node hears the namespace's
   * channel (a namespace made for this client has only just subscribed); recoveries.ts
   * says what the channel may bring around the read.
   */
  override async restoreSession(pid: PrivateSessionId, offset: string): Promise<Session> {
    if (!/^[0-9]+-[0-9]+$/.test(offset)) throw new Error('invalid offset');
    await this.ready;
    const heard = this.recoveries.begin();
    try {
      const [raw, found] = await Promise.all([this.client.getDel(this.sessionKey(pid)), this.client.xRange(this.stream, offset, offset)]);
      if (typeof raw !== 'string' || found === null || found.length === 0) throw new Error('session or offset not found');
      const session = decode(Buffer.from(raw, 'base64')) as Session;
      // Still connected here (its client came back before this node saw it go): two sockets
      // of one id in a namespace would take each other's place.
      if (this.nsp.sockets.has(session.sid)) throw new Error('session still connected');
      session.missedPackets = [];
      let after = offset;
      for (let page = 0; page < RESTORE_MAX_PAGES; page += 1) {
        const entries = (await this.client.xRange(this.stream, `(${after}`, '+', { COUNT: RESTORE_PAGE })) ?? [];
        for (const entry of entries) missed(session, entry.id, entry.message.m ?? '{}');
        after = entries.at(-1)?.id ?? after;
        if (entries.length < RESTORE_PAGE) break;
      }
      for (const entry of heard) {
        if (compareIds(entry.id, after) <= 0) continue;
        missed(session, entry.id, entry.json);
        after = entry.id;
      }
      this.recoveries.recovered(session.sid, after);
      return session;
    } finally {
      this.recoveries.end(heard);
    }
  }

  private keepSession(sid: SocketId, pid: PrivateSessionId): void {
    const socket = this.nsp.sockets.get(sid);
    if (socket !== undefined) this.storeSession({ sid, pid, rooms: [...socket.rooms], data: socket.data });
  }

  private storeSession(session: SessionToPersist): void {
    const value = Buffer.from(encode(session)).toString('base64');
    this.client.set(this.sessionKey(session.pid), value, { PX: this.windowMs }).catch(() => undefined);
  }

  private sessionKey(pid: string): string {
    return `socket.io:session:${pid}`;
  }

  private readonly onEphemeral = (payload: Buffer): void => {
    let message: ClusterMessage | ClusterResponse;
    try {
      message = decode(payload) as ClusterMessage | ClusterResponse;
    } catch {
      return;
    }
    // A response carries the uid of the node that answers; requests and broadcasts too.
    if (isResponse(message)) this.onResponse(message);
    else this.onMessage(message);
  };

  private readonly onLogged = (payload: string): void => {
    const afterUid = payload.indexOf(' ');
    if (afterUid === -1) return;
    const mine = afterUid === this.uid.length && payload.startsWith(this.uid);
    const afterId = payload.indexOf(' ', afterUid + 1);
    if (afterId === -1) return;
    const id = payload.slice(afterUid + 1, afterId);
    this.recoveries.heard(id, payload.slice(afterId + 1));
    if (mine) {
      this.own.heard(payload.slice(afterId + 1), id);
      return;
    }
    let message: ClusterMessage;
    try {
      message = decodeMessage(payload.slice(afterId + 1));
    } catch {
      return;
    }
    const recovered = this.recoveries.gotFromRecovery(id);
    if (recovered.length > 0 && message.type === MessageType.BROADCAST) (message.data as { opts: { except: string[] } }).opts.except.push(...recovered);
    this.onMessage(message, id);
  };
}

function isResponse(message: ClusterMessage | ClusterResponse): message is ClusterResponse {
  return [MessageType.FETCH_SOCKETS_RESPONSE, MessageType.SERVER_SIDE_EMIT_RESPONSE, MessageType.BROADCAST_CLIENT_COUNT, MessageType.BROADCAST_ACK].includes(message.type);
}

/** Adds the stream entry `id` to what `session` missed, if it is a broadcast the session was among the audience of. */
function missed(session: Session, id: string, json: string): void {
  const message = decodeMessage(json);
  if (message.type !== MessageType.BROADCAST) return;
  const { packet, opts } = message.data as { packet: { data: unknown[] }; opts: { rooms: string[]; except: string[] } };
  if (!includes(session.rooms, opts)) return;
  packet.data.push(id);
  session.missedPackets.push(packet.data);
}

/** Whether a session in `rooms` was among a broadcast's audience. */
function includes(rooms: readonly string[], opts: { rooms: string[]; except: string[] }): boolean {
  const included = opts.rooms.length === 0 || rooms.some((room) => opts.rooms.includes(room));
  return included && rooms.every((room) => !opts.except.includes(room));
}
