/**
 * The Redis store's Lua scripts: each runs whole, with nothing of another client's in
 * between, so a check and the write it allows cannot be split. Each one touches one
 * room's keys (roomKeys) and, for read markers, the user's markers; the `_RECORDING`
 * variants (WEBHOOK_URL) also add the message's event to the webhook outbox, and the
 * others stay as they are without it.
 */

/**
 * Moves a room to its newest message's time in the rooms set (and into the names set); a
 * new room past `max` (0: no bound) makes the rooms idle longest leave both, never the room
 * itself when `protect`. Answers the rooms that left, each followed by its time. Declared
 * first: the append scripts below are built as the module loads.
 */
const LISTED = `
local function listed(rooms, names, room, at, max, protect)
  local gone = {}
  if redis.call('ZADD', rooms, 'GT', at, room) == 1 then
    redis.call('ZADD', names, 0, room)
    max = tonumber(max)
    while max > 0 and redis.call('ZCARD', rooms) > max do
      local idlest = redis.call('ZRANGE', rooms, 0, 1, 'WITHSCORES')
      local out, outAt = idlest[1], idlest[2]
      if out == room and protect then out, outAt = idlest[3], idlest[4] end
      redis.call('ZREM', rooms, out)
      redis.call('ZREM', names, out)
      gone[#gone + 1] = out
      gone[#gone + 1] = outAt
    end
  end
  return gone
end
`;

/**
 * Stamps and stores a turn's messages, of any rooms, in one step: one command for the
 * turn, not one per message (RedisStore.append). Stream ids only increase within one
 * stream, and two rooms' streams would hand out the same ids; so each id comes from one
 * stream for all rooms (Redis keeps it increasing even when its clock steps back), and
 * the message goes into its room's stream under that id, which is newer than anything
 * there. A new room past MAX_STORED_ROOMS (0: no bound) makes the room idle longest go,
 * its stream and side keys deleted: they are derived here, as keys.ts does (one Redis, not
 * a Redis Cluster, which would want every key declared). With the webhook outbox
 * (WEBHOOK_URL), each message's `message.created` event is added in the same step, so a
 * stored message always has its event; the id is known only here, so the event's data
 * comes as JSON without it (`{"name",...}`) and the id goes in first.
 * KEYS: ids stream, rooms set, names set, the outbox (or the ids stream again when there
 * is none), then each message's room stream.
 * ARGV: HISTORY_KEEP, MAX_STORED_ROOMS, the lobby's name, HISTORY_KEY, 1 when recording
 * events (else 0), then per message: room, name, text, at, the sender's user prefixed
 * with `u` (empty when there is none), the event's data (empty when not recording).
 * Answers the ids, in order.
 */
export const APPEND_SCRIPT = `${LISTED}
local keep, max, lobby, history = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local recording = ARGV[5] == '1'
local ids = {}
for i = 1, (#ARGV - 5) / 6 do
  local a = 5 + (i - 1) * 6
  local room, at, user = ARGV[a + 1], ARGV[a + 4], ARGV[a + 5]
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'room', room)
  if user ~= '' then
    redis.call('XADD', KEYS[4 + i], 'MAXLEN', keep, id, 'name', ARGV[a + 2], 'text', ARGV[a + 3], 'at', at, 'user', string.sub(user, 2))
  else
    redis.call('XADD', KEYS[4 + i], 'MAXLEN', keep, id, 'name', ARGV[a + 2], 'text', ARGV[a + 3], 'at', at)
  end
  if recording then
    redis.call('XADD', KEYS[4], '*', 'type', 'message.created', 'room', room, 'at', at, 'data', '{"id":"' .. id .. '",' .. string.sub(ARGV[a + 6], 2))
  end
  local gone = listed(KEYS[2], KEYS[3], room, at, max, true)
  for j = 1, #gone, 2 do
    local base = history .. ':' .. gone[j]
    redis.call('DEL', gone[j] == lobby and history or base, base .. ':changes', base .. ':reactions')
  end
  ids[i] = id
end
return ids`;

/**
 * APPEND_SCRIPT on a Redis Cluster, where it may touch only one slot: a turn's messages
 * of one room. Each id comes from the slot's ids stream, its sequence times 16384 plus
 * the slot, so that ids stay unique across slots and increase within each (16384 slots: a
 * sequence past 2^39 in one millisecond would pass 2^53, which no Redis reaches). The
 * room's place in the room sets is kept apart (LISTED_SCRIPT). KEYS: the slot's ids
 * stream, the room's stream. ARGV: HISTORY_KEEP, the slot, then per message: name, text,
 * at, the sender's user prefixed with `u` (empty when there is none).
 * Answers {1 when the room had no stream before (new, or let go), else 0; the ids in order}.
 */
export const CLUSTER_APPEND_SCRIPT = `
local fresh = redis.call('EXISTS', KEYS[2]) == 0 and 1 or 0
local ids = {}
for i = 1, (#ARGV - 2) / 4 do
  local a = 2 + (i - 1) * 4
  local ms, seq = string.match(redis.call('XADD', KEYS[1], 'MAXLEN', '1', '*', 'room', ''), '^(%d+)-(%d+)$')
  local id = ms .. '-' .. string.format('%d', tonumber(seq) * 16384 + tonumber(ARGV[2]))
  local user = ARGV[a + 4]
  if user ~= '' then
    redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], id, 'name', ARGV[a + 1], 'text', ARGV[a + 2], 'at', ARGV[a + 3], 'user', string.sub(user, 2))
  else
    redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], id, 'name', ARGV[a + 1], 'text', ARGV[a + 2], 'at', ARGV[a + 3])
  end
  ids[i] = id
end
return {fresh, ids}`;

/**
 * A room's newest message time in the room sets, on a Redis Cluster (APPEND_SCRIPT does
 * it in the append on one Redis). A new room past MAX_STORED_ROOMS (0: no bound) makes
 * the room idle longest leave the sets, never the room just written to when ARGV[4] is
 * 1; the caller lets their keys go (LET_GO_SCRIPT, in their own slot). KEYS: rooms set,
 * names set. ARGV: room, at, MAX_STORED_ROOMS, 1 or 0. Answers each room that left,
 * followed by its time in the set.
 */
export const LISTED_SCRIPT = `${LISTED}
return listed(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1')`;

/**
 * Deletes a room that left the room sets at time ARGV[1], unless a message newer than
 * that came meanwhile (the sets are moved up at most once a second, and a message may
 * come between the two scripts): then it answers that message's time, and the room is
 * listed again with it, to be let go again if it is still the idlest.
 * KEYS: stream, changes, reactions.
 */
export const LET_GO_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last then
  for i = 1, #last[2], 2 do
    if last[2][i] == 'at' and tonumber(last[2][i + 1]) > tonumber(ARGV[1]) then return last[2][i + 1] end
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return nil`;

/**
 * A page of the listing: names after ARGV[1] (a ZRANGE BYLEX bound), at most ARGV[2],
 * each followed by its newest message's time. KEYS: names set, rooms set.
 */
export const ROOMS_SCRIPT = `
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])) do
  local at = redis.call('ZSCORE', KEYS[2], name)
  if at then
    out[#out + 1] = name
    out[#out + 1] = at
  end
end
return out`;

/** Stores written before the names set existed: it is filled once from the rooms set. KEYS: rooms set, names set. */
export const NAMES_UPGRADE_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local names = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, name in ipairs(names) do redis.call('ZADD', KEYS[2], 0, name) end
return #names`;

/**
 * Up to ARGV[4] entries of a room, each with what it became: ARGV[1] is XRANGE or
 * XREVRANGE, ARGV[2] and ARGV[3] its bounds. Answers, per entry: its id, its fields, its
 * state after its last edit (JSON, or nil) and its reactions as counts (JSON, or nil).
 * KEYS: stream, changes, reactions.
 */
export const PAGE_SCRIPT = `
local out = {}
for _, e in ipairs(redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])) do
  local id = e[1]
  out[#out + 1] = id
  out[#out + 1] = e[2]
  out[#out + 1] = redis.call('HGET', KEYS[2], id)
  local reactions = redis.call('HGET', KEYS[3], id)
  if reactions then
    local counts = {}
    for emoji, users in pairs(cjson.decode(reactions)) do counts[emoji] = #users end
    reactions = cjson.encode(counts)
  end
  out[#out + 1] = reactions
end
return out`;

/** What the change scripts share: finding an entry, who may change it, ordering ids, bounding side hashes. */
const COMMON = `
local function entry(stream, id)
  local found = redis.call('XRANGE', stream, id, id)[1]
  if not found or found[1] ~= id then return nil end
  local fields = {}
  for i = 1, #found[2], 2 do fields[found[2][i]] = found[2][i + 1] end
  if fields.deleted then return nil end
  return fields
end

local function refusal(fields, kind, user)
  if kind == 'any' then return nil end
  if kind == 'user' and fields.user == user then return nil end
  return 'forbidden'
end

local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end

-- Fields of a side hash outlive their entry once MAXLEN trims it. Only a live entry gets
-- a field, and at most HISTORY_KEEP are live; so past twice that, the fields older than
-- the stream's first entry go: the hash stays under 2 * HISTORY_KEEP + 1 fields, at the
-- cost of one pass over it per HISTORY_KEEP new fields at least.
local function prune(stream, hash, keep)
  if redis.call('HLEN', hash) <= 2 * keep then return end
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  for _, id in ipairs(redis.call('HKEYS', hash)) do
    if not first or older(id, first[1]) then redis.call('HDEL', hash, id) end
  end
end
`;

/**
 * An edit: the entry stays as it was sent; its latest text, version and time go in the
 * changes hash. KEYS: stream, changes. ARGV: id, actor kind (any, none, user), actor's
 * user, the new text as JSON, at, HISTORY_KEEP. Answers {'ok', version} or {refusal}.
 */
export const EDIT_SCRIPT = editScript('');

/**
 * EDIT_SCRIPT with the webhook outbox: the `message.edited` event (the message as it is
 * now: id, name, text, at, user, version, editedAt) in the same script.
 * KEYS: EDIT_SCRIPT's, then the outbox. ARGV: EDIT_SCRIPT's, then the room.
 */
export const EDIT_RECORDING_SCRIPT = editScript(`
local user = fields.user and (',"user":' .. cjson.encode(fields.user)) or ''
redis.call('XADD', KEYS[3], '*', 'type', 'message.edited', 'room', ARGV[7], 'at', ARGV[5], 'data',
  '{"id":"' .. ARGV[1] .. '","name":' .. cjson.encode(fields.name or '') .. ',"text":' .. ARGV[4] .. ',"at":' .. (fields.at or '0') ..
  user .. ',"version":' .. version .. ',"editedAt":' .. ARGV[5] .. '}')
`);

/** The edit script, with `recordEvent` run once the edit is made. */
function editScript(recordEvent: string): string {
  return `${COMMON}
local fields = entry(KEYS[1], ARGV[1])
if not fields then return {'not_found'} end
local why = refusal(fields, ARGV[2], ARGV[3])
if why then return {why} end
local version = 1
local state = redis.call('HGET', KEYS[2], ARGV[1])
if state then version = (tonumber(cjson.decode(state).version) or 0) + 1 end
redis.call('HSET', KEYS[2], ARGV[1], '{"text":' .. ARGV[4] .. ',"version":' .. version .. ',"editedAt":' .. ARGV[5] .. '}')
prune(KEYS[1], KEYS[2], tonumber(ARGV[6]))${recordEvent}
return {'ok', version}`;
}

/**
 * A delete takes the text and name out of Redis, not only out of view: XDEL would only
 * mark the entry deleted in its listpack, bytes and all, so the stream is written anew,
 * every entry under its own id, in order (the stream's last id stays where it was), the
 * deleted one as a tombstone (`deleted 1 at <at>`). The old stream is read from a key of
 * its own a chunk at a time, so the script holds one chunk, whatever the stream's size;
 * it costs a pass over the room's stream (at most HISTORY_KEEP entries). Its edited text
 * and its reactions go too.
 * KEYS: stream, changes, reactions, rewrite. ARGV: id, actor kind, actor's user.
 * Answers {'ok'} or {refusal}.
 */
export const DELETE_SCRIPT = deleteScript('');

/**
 * DELETE_SCRIPT with the webhook outbox: the `message.deleted` event (`{"id"}`) in the
 * same script. KEYS: DELETE_SCRIPT's, then the outbox. ARGV: DELETE_SCRIPT's, then the
 * room and the time of the delete.
 */
export const DELETE_RECORDING_SCRIPT = deleteScript(`
redis.call('XADD', KEYS[5], '*', 'type', 'message.deleted', 'room', ARGV[4], 'at', ARGV[5], 'data', '{"id":"' .. ARGV[1] .. '"}')`);

/** The delete script, with `recordEvent` run once the message is gone. */
function deleteScript(recordEvent: string): string {
  return `${COMMON}
local fields = entry(KEYS[1], ARGV[1])
if not fields then return {'not_found'} end
local why = refusal(fields, ARGV[2], ARGV[3])
if why then return {why} end
redis.call('RENAME', KEYS[1], KEYS[4])
local from = '-'
repeat
  local chunk = redis.call('XRANGE', KEYS[4], from, '+', 'COUNT', 128)
  for _, e in ipairs(chunk) do
    if e[1] == ARGV[1] then
      redis.call('XADD', KEYS[1], e[1], 'deleted', '1', 'at', fields.at)
    else
      redis.call('XADD', KEYS[1], e[1], unpack(e[2]))
    end
  end
  if #chunk > 0 then from = '(' .. chunk[#chunk][1] end
until #chunk < 128
redis.call('DEL', KEYS[4])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])${recordEvent}
return {'ok'}`;
}

/**
 * A reaction taken or taken back: one per user per emoji per message, at most ARGV[5]
 * distinct emoji per message. KEYS: stream, reactions. ARGV: id, emoji, user, '1' (on)
 * or '0' (off), MAX_REACTIONS, HISTORY_KEEP. Answers {'ok', count of the emoji now} or {refusal}.
 */
export const REACT_SCRIPT = `${COMMON}
if not entry(KEYS[1], ARGV[1]) then return {'not_found'} end
local on = ARGV[4] == '1'
local stored = redis.call('HGET', KEYS[2], ARGV[1])
local reactions = stored and cjson.decode(stored) or {}
local users = reactions[ARGV[2]]
if not users then
  if not on then return {'ok', 0} end
  local distinct = 0
  for _ in pairs(reactions) do distinct = distinct + 1 end
  if distinct >= tonumber(ARGV[5]) then return {'too_many_reactions'} end
  users = {}
  reactions[ARGV[2]] = users
end
local at = nil
for i, user in ipairs(users) do
  if user == ARGV[3] then at = i end
end
if on and not at then users[#users + 1] = ARGV[3] end
if not on and at then table.remove(users, at) end
local count = #users
if count == 0 then reactions[ARGV[2]] = nil end
if next(reactions) == nil then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(reactions))
  prune(KEYS[1], KEYS[2], tonumber(ARGV[6]))
end
return {'ok', count}`;

/**
 * Whether the message ARGV[1] is stored and not deleted: a read marker may point at it.
 * KEYS: stream. Answers 1 or 0.
 */
export const LIVE_SCRIPT = `${COMMON}
if entry(KEYS[1], ARGV[1]) then return 1 end
return 0`;

/**
 * A read marker, which only moves forward; the room's stream is asked first (LIVE_SCRIPT),
 * apart: on a Redis Cluster the user's markers and the room are in different slots.
 * KEYS: the user's markers. ARGV: id, room. Answers the marker now.
 */
export const MARK_SCRIPT = `${COMMON}
local marker = redis.call('HGET', KEYS[1], ARGV[2])
if marker and not older(marker, ARGV[1]) then return marker end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
return ARGV[1]`;

/**
 * A room as one of a user's rooms: its newest entry's id and how many messages (not
 * tombstones) came after the marker ARGV[1]; nil when the room has none stored.
 * KEYS: stream.
 */
export const UNREAD_SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if not last then return nil end
local unread = 0
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+')) do
  if e[2][1] ~= 'deleted' then unread = unread + 1 end
end
return {last[1], unread}`;
