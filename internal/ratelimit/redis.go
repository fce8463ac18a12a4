package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// KeyPrefix starts the name of every key the service's Redis limiter
// writes, so that its keys stay apart from anything else in the same
// Redis.
const KeyPrefix = "enhance:rl:"

// maxLimit is the most requests per Window a Redis limiter counts: it
// counts time in microseconds, and the interval between requests must be
// at least one.
const maxLimit = int(Window / time.Microsecond)

// errLimit is a limit the Redis limiter cannot count: the caller's
// mistake, which Failover passes on rather than blaming Redis for it.
var errLimit = errors.New("ratelimit: limit out of range")

// gcraClock is the start of both scripts: now in microseconds since the
// epoch, the caller's (ARGV[1]) or, when that is empty, the Redis
// server's own. Microseconds keep the times exact in Lua's doubles
// (2^53 µs is 285 years), where nanoseconds would not.
//
// Redis before 7.0 replicates a script that reads TIME and then writes
// only when told to replicate its effects instead of itself;
// replicate_commands is that switch, and a no-op from 7.0.
const gcraClock = `
local now = tonumber(ARGV[1])
if not now then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[2])
`

// allowScript is Local.Allow in Lua, one atomic step in Redis: KEYS[1]
// holds the key's theoretical arrival time (TAT) in microseconds; ARGV[2]
// is the interval and ARGV[3] the window, in microseconds. It returns
// {allowed, remaining, reset, retry after}, the times in microseconds.
// The key expires when the quota is whole again, when it would say no
// more than its absence does, so that Redis holds only keys in use.
// Times are written with %d, so that no version's conversion of a Lua
// number to a string can round them or give them an exponent.
var allowScript = redis.NewScript(gcraClock + `
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local nxt = tat + interval
local used = nxt - now
if used > window then
  return {0, 0, tat - now, used - window}
end
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil(used / 1000))
return {1, math.floor((window - used) / interval), used, 0}
`)

// undoScript is Local.Undo in Lua: it moves the key's TAT back one
// interval, and deletes the key when that makes the quota whole.
var undoScript = redis.NewScript(gcraClock + `
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
tat = tat - interval
if tat <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return 1
`)

// Redis keeps the state in Redis, so that every instance using the same
// Redis shares each key's quota. Its decisions are Local's, made by one
// Lua script per call, which Redis runs atomically whatever the number of
// instances and requests; times are counted in microseconds, which every
// limit that divides a minute's microseconds (as every plan's does)
// leaves exact. Each call is one round trip (EVALSHA).
//
// Its errors are Redis's (unreachable, timed out); Failover turns them
// into decisions made in this process.
type Redis struct {
	client redis.Scripter
	prefix string
	now    func() time.Time
}

// NewRedis returns a Limiter keeping its state in client's Redis, under
// keys that start with prefix (KeyPrefix for the service).
//
// now is the clock. When nil, the Redis server's clock is used (TIME,
// read inside the script): every instance then measures time on one
// clock, so the limit holds whatever the instances' clocks say. With
// instances' own clocks, the instance whose clock ran ahead by d would be
// refused about d/interval requests too many, and one behind would be
// allowed as many too many: at the enterprise plan's 1 ms interval, 100
// ms of drift is 100 requests. Tests pass their own clock to hold time
// still; anything else that passes one needs its instances' clocks kept
// together (NTP).
func NewRedis(client redis.Scripter, prefix string, now func() time.Time) (*Redis, error) {
	if client == nil {
		return nil, errors.New("ratelimit: the Redis limiter needs a client")
	}
	if prefix == "" {
		return nil, errors.New("ratelimit: the Redis limiter needs a key prefix")
	}
	return &Redis{client: client, prefix: prefix, now: now}, nil
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit int) (Decision, error) {
	args, err := r.args(limit)
	if err != nil {
		return Decision{}, err
	}
	res, err := allowScript.Run(ctx, r.client, []string{r.prefix + key}, args...).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 4 {
		return Decision{}, fmt.Errorf("ratelimit: redis: the script answered %d values, not 4", len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		Limit:      limit,
		Remaining:  int(res[1]),
		Reset:      time.Duration(res[2]) * time.Microsecond,
		RetryAfter: time.Duration(res[3]) * time.Microsecond,
	}, nil
}

// Undo implements Limiter.
func (r *Redis) Undo(ctx context.Context, key string, limit int) error {
	args, err := r.args(limit)
	if err != nil {
		return err
	}
	if err := undoScript.Run(ctx, r.client, []string{r.prefix + key}, args...).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// args are the scripts' ARGV: now ("" for the server's clock), the
// interval and the window, in microseconds.
func (r *Redis) args(limit int) ([]any, error) {
	if limit < 1 || limit > maxLimit {
		return nil, fmt.Errorf("%w: %d requests a minute is outside 1 to %d", errLimit, limit, maxLimit)
	}
	now := ""
	if r.now != nil {
		now = fmt.Sprint(r.now().UnixMicro())
	}
	window := Window.Microseconds()
	return []any{now, window / int64(limit), window}, nil
}
