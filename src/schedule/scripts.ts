/**
 * The schedule store's Lua scripts: each change that must not interleave with another replica's is
 * one script. Every script that writes first checks that the schedule still exists (KEYS[1] is its
 * definition), so a run finishing after a delete leaves nothing behind.
 */

/** KEYS: definition, state, schedules. ARGV: id, definition JSON, cursor, created-at. */
export const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], 'paused', '0', 'cursor', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1`;

/** KEYS: definition, state. ARGV: 1 or 0. */
export const SET_PAUSED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'paused', ARGV[1])
return 1`;

/**
 * Claims a firing: exactly one replica gets it. A cron firing only while the cursor is still where
 * the caller saw it (then the cursor moves on); a manual one only while it is asked for. The
 * schedule must have no run in progress (runs of one schedule never overlap), and the firing's
 * lease is taken with SET NX PX: whoever holds it runs the firing, and renews it while it does.
 * KEYS: definition, state, runs, order, requests, lease.
 * ARGV: kind, firing, expected cursor, new cursor, owner, ttl ms, run JSON, skipped firing or '', skipped JSON.
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('HEXISTS', KEYS[2], 'active') == 1 then return 'busy' end
if ARGV[1] == 'cron' then
  if redis.call('HGET', KEYS[2], 'paused') == '1' then return 'paused' end
  if redis.call('HGET', KEYS[2], 'cursor') ~= ARGV[3] then return 'taken' end
else
  if redis.call('ZSCORE', KEYS[5], ARGV[2]) == false then return 'taken' end
end
if redis.call('SET', KEYS[6], ARGV[5], 'NX', 'PX', ARGV[6]) == false then return 'leased' end
if ARGV[1] == 'cron' then redis.call('HSET', KEYS[2], 'cursor', ARGV[4]) else redis.call('ZREM', KEYS[5], ARGV[2]) end
redis.call('HSET', KEYS[2], 'active', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[7])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[2])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[9])
  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[8])
end
return 'ok'`;

/**
 * Records skipped firings without a run (catch-up policy none), moving the cursor.
 * KEYS: definition, state, runs, order. ARGV: expected cursor, new cursor, skipped firing, skipped JSON.
 */
export const SKIP = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[2], 'cursor') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'cursor', ARGV[2])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[3])
return 1`;

/**
 * A run's new record, by the lease's owner only (the lease is renewed with it); with a carry, the
 * next "since previous run" range starts there.
 * KEYS: definition, state, runs, lease. ARGV: firing, owner, ttl ms, run JSON, carry JSON or ''.
 */
export const UPDATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('GET', KEYS[4]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], 'carry', ARGV[5]) end
return 1`;

/**
 * The run is over: its record, the schedule free for the next firing, the lease gone, and the
 * history cut to its newest entries.
 * KEYS: definition, state, runs, order, lease. ARGV: firing, owner, run JSON, entries kept.
 */
export const FINISH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('GET', KEYS[5]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
if redis.call('HGET', KEYS[2], 'active') == ARGV[1] then redis.call('HDEL', KEYS[2], 'active') end
redis.call('DEL', KEYS[5])
local n = redis.call('ZCARD', KEYS[4])
local keep = tonumber(ARGV[4])
if n > keep then
  local old = redis.call('ZRANGE', KEYS[4], 0, n - keep - 1)
  for _, f in ipairs(old) do redis.call('HDEL', KEYS[3], f) end
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - keep - 1)
end
return 1`;

/**
 * Takes over the run in progress whose replica went away (its lease expired).
 * KEYS: state, lease. ARGV: firing, owner, ttl ms.
 */
export const TAKE_OVER = `
if redis.call('HGET', KEYS[1], 'active') ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) == false then return 0 end
return 1`;

/** Renews a lease the caller holds. KEYS: lease. ARGV: owner, ttl ms. */
export const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Gives up a lease the caller holds. KEYS: lease. ARGV: owner. */
export const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * Asks for a run of a firing (run-now): refused when that firing ran already or runs now.
 * KEYS: definition, runs, requests. ARGV: firing.
 */
export const REQUEST = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local run = redis.call('HGET', KEYS[2], ARGV[1])
if run then
  local state = cjson.decode(run)['state']
  if state == 'succeeded' or state == 'running' or state == 'retrying' then return state end
end
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[1])
return 'queued'`;
