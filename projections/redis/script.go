package redis

// Argument layout of applyScript: keysPerEvent keys and argsPerEvent
// arguments per event, in batch order.
const (
	keysPerEvent = 3 // record, counters, positions
	argsPerEvent = 11
)

// Operation codes of applyScript (argument 1 of an event).
const (
	opStore      = "s" // MemoryStored
	opDelete     = "d" // MemoryDeleted
	opImportance = "i" // MemoryImportanceSet
	opPosition   = "p" // links: only the position advances
)

// applyScript applies a chunk of events atomically. For event i
// (0-based):
//
//	KEYS[3i+1] record key, KEYS[3i+2] counter key, KEYS[3i+3] position key
//	ARGV[11i+1..11i+11] op, partition, offset, type, payload, importance
//	  ("" = none), importance_norm, occurred_at, event_id, namespace,
//	  coordinate key
//
// An event whose offset is not above the stored position of its (source,
// partition) is skipped. Offsets are compared as canonical non-negative
// decimal strings (longer is larger, then bytewise), so they stay exact
// beyond 2^53. Counters change only when a memory appears, disappears or
// changes type, so a replayed event never counts twice; the changes are
// summed per counter and written once at the end. The script checks
// nothing that Go validated and raises no error of its own, so it never
// stops halfway. It returns the number of events applied.
const applyScript = `
local S = 11
local n = #KEYS / 3
local pos, changed, order = {}, {}, {}
local delta, dkeys = {}, {}
local applied = 0
local function newer(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local function count(ck, field, d)
  local t = delta[ck]
  if t == nil then
    t = {}
    delta[ck] = t
    dkeys[#dkeys+1] = ck
  end
  t[field] = (t[field] or 0) + d
end
for i = 0, n - 1 do
  local rk, ck, pk = KEYS[3*i+1], KEYS[3*i+2], KEYS[3*i+3]
  local a = i * S
  local op, part, off = ARGV[a+1], ARGV[a+2], ARGV[a+3]
  local slot = pk .. '\0' .. part
  local cur = pos[slot]
  if cur == nil then
    cur = redis.call('HGET', pk, part)
    pos[slot] = cur
  end
  if cur == false or newer(off, cur) then
    if not changed[slot] then
      changed[slot] = true
      order[#order+1] = {pk, part, slot}
    end
    pos[slot] = off
    applied = applied + 1
    if op == 's' then
      local typ, at = ARGV[a+4], ARGV[a+8]
      local old = redis.call('HMGET', rk, 'type', 'version')
      local version = 1
      if old[1] then
        version = (tonumber(old[2]) or 0) + 1
        redis.call('DEL', rk)
      end
      if ARGV[a+6] == '' then
        redis.call('HSET', rk,
          'namespace', ARGV[a+10], 'coordinate', ARGV[a+11], 'type', typ,
          'payload', ARGV[a+5], 'importance_norm', ARGV[a+7],
          'stored_at', at, 'updated_at', at, 'version', version,
          'last_event_id', ARGV[a+9])
      else
        redis.call('HSET', rk,
          'namespace', ARGV[a+10], 'coordinate', ARGV[a+11], 'type', typ,
          'payload', ARGV[a+5], 'importance_norm', ARGV[a+7],
          'stored_at', at, 'updated_at', at, 'version', version,
          'last_event_id', ARGV[a+9], 'importance', ARGV[a+6])
      end
      if not old[1] then
        count(ck, 'total', 1)
        count(ck, typ, 1)
      elseif old[1] ~= typ then
        count(ck, old[1], -1)
        count(ck, typ, 1)
      end
    elseif op == 'd' then
      local old = redis.call('HGET', rk, 'type')
      if old then
        redis.call('DEL', rk)
        count(ck, 'total', -1)
        count(ck, old, -1)
      end
    elseif op == 'i' then
      local last = redis.call('HGET', rk, 'last_event_id')
      if last and last ~= ARGV[a+9] then
        redis.call('HSET', rk, 'importance', ARGV[a+6], 'importance_norm', ARGV[a+7],
          'payload_importance', ARGV[a+6], 'updated_at', ARGV[a+8], 'last_event_id', ARGV[a+9])
        redis.call('HINCRBY', rk, 'version', 1)
      end
    end
  end
end
for _, ck in ipairs(dkeys) do
  for field, d in pairs(delta[ck]) do
    if d ~= 0 then redis.call('HINCRBY', ck, field, d) end
  end
end
for _, d in ipairs(order) do
  redis.call('HSET', d[1], d[2], pos[d[3]])
end
return applied
`
