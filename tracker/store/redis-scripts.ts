/**
 * The Lua the Redis store runs, each as one atomic script. Keys: `PREFIX{kind}` a hash key →
 * JSON; `PREFIX seq` the last batch's number; `PREFIX lease-slot:SUBNET PACKAGE` a sorted set
 * of peer ids scored by their lease's expiresAt (ms); batches published on `PREFIX batches`.
 */

/** Redis's cjson keeps 14 significant digits; %.17g keeps every double, so integers stay exact to 2^53. */
const ENCODE = `
local function encode(v)
  if type(v) == 'number' then return string.format('%.17g', v) end
  if type(v) ~= 'table' then return cjson.encode(v) end
  local parts = {}
  if #v > 0 then
    for _, x in ipairs(v) do parts[#parts + 1] = encode(x) end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  for k, x in pairs(v) do parts[#parts + 1] = cjson.encode(k) .. ':' .. encode(x) end
  return '{' .. table.concat(parts, ',') .. '}'
end
`

/**
 * ARGV: prefix, replica, the ops as JSON (published as they are), then per op: type, kind,
 * key, value JSON ('' for del). First works out every key's new value (an `add` reads what
 * the ops before it left), so an op that fails changes nothing; then writes, counts the batch
 * and publishes it. Returns its seq.
 */
export const WRITE_LUA = `${ENCODE}
local prefix = ARGV[1]
local staged, writes = {}, {}
for i = 4, #ARGV, 4 do
  local op, kind, key, json = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local hash = prefix .. kind
  local id = hash .. '\\n' .. key
  if op == 'del' then json = false end
  if op == 'add' then
    local before = staged[id]
    if before == nil then before = redis.call('HGET', hash, key) end
    local record = before and cjson.decode(before) or {}
    if type(record) ~= 'table' then return redis.error_reply('cannot add to ' .. kind .. ' ' .. key .. ': it is not a JSON object') end
    for field, n in pairs(cjson.decode(json)) do
      local was = record[field] or 0
      if type(was) ~= 'number' then return redis.error_reply('cannot add to ' .. kind .. ' ' .. key .. '.' .. field .. ': it is not a number') end
      record[field] = was + n
      if record[field] == math.huge or record[field] == -math.huge then return redis.error_reply('cannot add to ' .. kind .. ' ' .. key .. '.' .. field .. ': the sum overflows') end
    end
    json = encode(record)
  end
  staged[id] = json
  writes[#writes + 1] = { hash, kind, key, json }
end
for _, w in ipairs(writes) do
  local hash, kind, key, json = w[1], w[2], w[3], w[4]
  if json then redis.call('HSET', hash, key, json) else redis.call('HDEL', hash, key) end
  local slot, peer
  if kind == 'lease' then slot, peer = string.match(key, '^(.*) ([^ ]*)$') end
  if slot then
    local zset = prefix .. 'lease-slot:' .. slot
    local lease = json and cjson.decode(json)
    if not json then redis.call('ZREM', zset, peer)
    elseif type(lease) == 'table' and type(lease.expiresAt) == 'number' then redis.call('ZADD', zset, string.format('%.17g', lease.expiresAt), peer) end
  end
end
local seq = redis.call('INCR', prefix .. 'seq')
redis.call('PUBLISH', prefix .. 'batches', '{"seq":' .. string.format('%d', seq) .. ',"replica":' .. cjson.encode(ARGV[2]) .. ',"ops":' .. ARGV[3] .. '}')
return seq
`

/**
 * ARGV: prefix, slot (`SUBNET PACKAGE`), peer id, limit, now, expiresAt. Drops the slot's
 * leases expired at `now` (and their `lease` records), then renews or grants the peer's.
 * Returns 1 when it holds one, 0 when the slot is full.
 */
export const LEASE_LUA = `
local prefix, slot, peer, limit, now, expires = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local zset = prefix .. 'lease-slot:' .. slot
local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
for _, p in ipairs(expired) do redis.call('HDEL', prefix .. 'lease', slot .. ' ' .. p) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', zset, '-inf', now) end
if redis.call('ZSCORE', zset, peer) or redis.call('ZCARD', zset) < limit then
  redis.call('ZADD', zset, expires, peer)
  return 1
end
return 0
`
