/*
 * The Lua scripts of `RedisIdempotencyStore`: one per state change, so that each change is atomic on the
 * server and costs one round trip.
 *
 * A record is one string key, compact so that a completed record costs little more than its response:
 *
 *   in flight:  'i' <#fp> ':' <fp> <leaseUntil> ':' <token>
 *   completed:  'c' <#fp> ':' <fp> <response>
 *
 * <fp> is the encoded fingerprint (opaque bytes to the scripts, hence its length prefix); <leaseUntil> is in
 * milliseconds of the Redis server's clock, so app instances whose clocks disagree still agree on leases.
 * The record's lifetime is the key's own PX expiry: Redis removes it, and an expired key is absent at once.
 */

/** The acquire script's reply when this token owns the record now: `{ACQUIRED, takenOver (0 or 1)}`. */
export const ACQUIRED = 1;
/** Another attempt holds the record: `{IN_FLIGHT, fingerprint, retryAfterMs}`. */
export const IN_FLIGHT = 2;
/** The record is completed: `{COMPLETED, fingerprint, response}`. */
export const COMPLETED = 3;

const PARSE = `
local function parse(record)
  local colon = string.find(record, ':', 2, true)
  local fpEnd = colon + tonumber(string.sub(record, 2, colon - 1))
  return string.sub(record, 1, 1), string.sub(record, colon + 1, fpEnd), fpEnd + 1
end
local function owner(record, from)
  local colon = string.find(record, ':', from, true)
  return tonumber(string.sub(record, from, colon - 1)), string.sub(record, colon + 1)
end
`;

// The fencing check complete and release share: the fingerprint of KEYS[1] if it is in flight and `token`
// owns it, else nil.
const OWNED_IN_FLIGHT = `
local function ownedInFlight(token)
  local record = redis.call('GET', KEYS[1])
  if not record then return nil end
  local state, fingerprint, rest = parse(record)
  if state ~= 'i' then return nil end
  local _, holder = owner(record, rest)
  if holder ~= token then return nil end
  return fingerprint
end
`;

/**
 * KEYS[1] record; ARGV fingerprint, token, leaseMs, ttlMs. Creates the in-flight record, takes over an
 * expired lease with the same fingerprint, or returns what is there.
 */
export const ACQUIRE_SCRIPT = `${PARSE}
-- Redis < 5 refuses a write after a non-deterministic command (TIME) unless effects are replicated.
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local fingerprint = ARGV[1]
local takenOver = 0
local record = redis.call('GET', KEYS[1])
if record then
  local state, storedFingerprint, rest = parse(record)
  if state == 'c' then
    return {${COMPLETED}, storedFingerprint, string.sub(record, rest)}
  end
  local leaseUntil = owner(record, rest)
  if leaseUntil > now or storedFingerprint ~= fingerprint then
    return {${IN_FLIGHT}, storedFingerprint, math.max(0, leaseUntil - now)}
  end
  takenOver = 1
end
local leaseUntil = string.format('%d', now + tonumber(ARGV[3]))
redis.call('SET', KEYS[1], 'i' .. #fingerprint .. ':' .. fingerprint .. leaseUntil .. ':' .. ARGV[2], 'PX', ARGV[4])
return {${ACQUIRED}, takenOver}
`;

/** KEYS[1] record; ARGV token, response, ttlMs. Completes an in-flight record the token owns: 1, else 0. */
export const COMPLETE_SCRIPT = `${PARSE}${OWNED_IN_FLIGHT}
local fingerprint = ownedInFlight(ARGV[1])
if not fingerprint then return 0 end
redis.call('SET', KEYS[1], 'c' .. #fingerprint .. ':' .. fingerprint .. ARGV[2], 'PX', ARGV[3])
return 1
`;

/** KEYS[1] record; ARGV token. Deletes an in-flight record the token owns: 1, else 0. */
export const RELEASE_SCRIPT = `${PARSE}${OWNED_IN_FLIGHT}
if not ownedInFlight(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * KEYS[1] record. A read: `{IN_FLIGHT, fingerprint, leaseUntil, expiresAt}`, `{COMPLETED, fingerprint, response,
 * expiresAt}`, or nil when there is no record; times in epoch milliseconds of the server's clock.
 */
export const INSPECT_SCRIPT = `${PARSE}
local record = redis.call('GET', KEYS[1])
if not record then return nil end
local time = redis.call('TIME')
local expiresAt = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + redis.call('PTTL', KEYS[1])
local state, fingerprint, rest = parse(record)
if state == 'c' then return {${COMPLETED}, fingerprint, string.sub(record, rest), expiresAt} end
return {${IN_FLIGHT}, fingerprint, owner(record, rest), expiresAt}
`;

/** `forget`'s answers. */
export const FORGOTTEN = 1;
export const ABSENT = 0;
export const LEFT_IN_FLIGHT = 2;

/**
 * KEYS[1] record; ARGV force ('1' or '0'). Deletes a completed record, or an in-flight one with force: FORGOTTEN,
 * ABSENT, or LEFT_IN_FLIGHT. Reads the state's one byte, not the response.
 */
export const FORGET_SCRIPT = `
local state = redis.call('GETRANGE', KEYS[1], 0, 0)
if state == '' then return ${ABSENT} end
if state == 'i' and ARGV[1] ~= '1' then return ${LEFT_IN_FLIGHT} end
redis.call('DEL', KEYS[1])
return ${FORGOTTEN}
`;
