/**
 * The Lua scripts of the Redis webhook outbox (redis/outbox.ts): the delivery lease, and
 * the cluster-wide member counts, each change to them with its events in one script, so
 * a count and the events it makes cannot part. A room's members hash and a node's hash
 * are derived from names here, as keys.ts derives them (one Redis, not a Redis Cluster,
 * which would want every key declared).
 */

/**
 * Takes the lease for ARGV[1] for ARGV[2] ms, or renews it if ARGV[1] holds it.
 * KEYS: the lease. Answers 1 when ARGV[1] holds it now, else 0.
 */
export const LEASE_SCRIPT = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** Gives the lease up if ARGV[1] holds it. KEYS: the lease. */
export const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/** How many events wait, and the oldest one's time (nil: none). KEYS: the outbox. */
export const DEPTH_SCRIPT = `
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not first then return {0} end
local at = nil
for i = 1, #first[2], 2 do
  if first[2][i] == 'at' then at = first[2][i + 1] end
end
return {redis.call('XLEN', KEYS[1]), at}`;

/**
 * Moving one member's connections on one node, with the events that makes. A room's
 * members hash holds, per member key, its connections on every node and who it is
 * (`<count> <{"name","user"}>`): the member is in the room while it has a field, and the
 * room is occupied while the hash exists. A node's hash holds its own share, per
 * `<room>:<member key>` (room names have no `:`), so that when the node goes its share
 * can be taken away, and a leave it never counted changes nothing.
 */
const MEMBERS = `
local function emit(outbox, type, room, at, data)
  redis.call('XADD', outbox, '*', 'type', type, 'room', room, 'at', at, 'data', data)
end

local function move(node, outbox, prefix, room, key, delta, data, at)
  local field = room .. ':' .. key
  local mine = tonumber(redis.call('HGET', node, field) or '0')
  if mine + delta < 0 then delta = -mine end
  if delta == 0 then return end
  if mine + delta == 0 then redis.call('HDEL', node, field) else redis.call('HSET', node, field, mine + delta) end
  local members = prefix .. '{' .. room .. '}'
  local stored = redis.call('HGET', members, key)
  local count, known = 0, data
  if stored then
    local digits, who = string.match(stored, '^(%d+) (.*)$')
    count, known = tonumber(digits), who
  end
  if count == 0 and delta < 0 then return end
  local now = count + delta
  if now <= 0 then
    redis.call('HDEL', members, key)
    emit(outbox, 'member.left', room, at, known)
    if redis.call('EXISTS', members) == 0 then emit(outbox, 'room.vacated', room, at, '{}') end
    return
  end
  redis.call('HSET', members, key, now .. ' ' .. known)
  if count == 0 then
    if redis.call('HLEN', members) == 1 then emit(outbox, 'room.occupied', room, at, '{}') end
    emit(outbox, 'member.joined', room, at, data)
  end
end

-- Takes every connection of the node's hash away, then the hash.
local function clear(node, outbox, prefix, at)
  local share = redis.call('HGETALL', node)
  for i = 1, #share, 2 do
    local room, key = string.match(share[i], '^([^:]*):(.*)$')
    move(node, outbox, prefix, room, key, -tonumber(share[i + 1]), nil, at)
  end
  redis.call('DEL', node)
end
`;

/**
 * A connection of a member came (ARGV[5] = 1) or went (-1) on a node.
 * KEYS: the node's hash, the outbox, the nodes set. ARGV: members prefix, node id, room,
 * member key, delta, who as JSON ({"name","user"}), at.
 */
export const MEMBER_SCRIPT = `${MEMBERS}
redis.call('SADD', KEYS[3], ARGV[2])
move(KEYS[1], KEYS[2], ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7])
return 1`;

/**
 * A node sets its whole share to what it counts itself, after Redis lost track of some of
 * it (an outage; its heartbeat lapsed and another node let its members go), or to nothing
 * as it stops (ARGV[4] = 'leave': it is then no node any more).
 * KEYS: the node's hash, the outbox, the nodes set, the node's heartbeat. ARGV: members
 * prefix, node id, at, 'stay' or 'leave', then per member of each room: room, member key,
 * connections, who as JSON.
 */
export const SYNC_SCRIPT = `${MEMBERS}
local at = ARGV[3]
local wanted = {}
for i = 5, #ARGV, 4 do wanted[ARGV[i] .. ':' .. ARGV[i + 1]] = i end
local share = redis.call('HGETALL', KEYS[1])
for i = 1, #share, 2 do
  if not wanted[share[i]] then
    local room, key = string.match(share[i], '^([^:]*):(.*)$')
    move(KEYS[1], KEYS[2], ARGV[1], room, key, -tonumber(share[i + 1]), nil, at)
  end
end
for i = 5, #ARGV, 4 do
  local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[i] .. ':' .. ARGV[i + 1]) or '0')
  move(KEYS[1], KEYS[2], ARGV[1], ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]) - mine, ARGV[i + 3], at)
end
if ARGV[4] == 'leave' then
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('DEL', KEYS[4])
else
  redis.call('SADD', KEYS[3], ARGV[2])
end
return 1`;

/**
 * A node's beat: renews its heartbeat for ARGV[3] ms, then lets go of every node whose
 * heartbeat lapsed (their members' connections taken away, with the events that makes).
 * KEYS: the nodes set, the outbox. ARGV: members prefix, node prefix, heartbeat TTL in
 * ms, node id, at. Answers {whether this node's heartbeat was still there, nodes let go}.
 */
export const BEAT_SCRIPT = `${MEMBERS}
local heartbeat = ARGV[2] .. ARGV[4]
local alive = redis.call('EXISTS', heartbeat)
redis.call('SET', heartbeat, '1', 'PX', ARGV[3])
redis.call('SADD', KEYS[1], ARGV[4])
local gone = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[2] .. id) == 0 then
    clear(ARGV[2] .. id .. ':members', KEYS[2], ARGV[1], ARGV[5])
    redis.call('SREM', KEYS[1], id)
    gone = gone + 1
  end
end
return {alive, gone}`;
