package ratelimit

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/redisclient/redistest"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	client := redistest.New(t)
	testLimiter(t, func(t *testing.T, now func() time.Time) Limiter {
		return newTestRedis(t, client, redistest.Name("enhance-test:rl:"), now)
	})
}

func newTestRedis(t *testing.T, client redis.Scripter, prefix string, now func() time.Time) *Redis {
	t.Helper()
	r, err := NewRedis(client, prefix, now)
	require.NoError(t, err)
	return r
}

func TestRedisKeysExpireWhenTheQuotaIsWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.New(t)
	prefix := redistest.Name("enhance-test:rl:")
	c := newClock()
	r := newTestRedis(t, client, prefix, c.Now)

	allow(t, r, "k", 60)
	ttl := client.PTTL(ctx, prefix+"k").Val()
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, time.Second, "one request of 60 a minute is whole again in a second")
	require.NoError(t, r.Undo(ctx, "k", 60))
	require.Zero(t, client.Exists(ctx, prefix+"k").Val(), "undone to a whole quota, the key is gone")

	spend(t, r, "k", 60)
	ttl = client.PTTL(ctx, prefix+"k").Val()
	require.Greater(t, ttl, 59*time.Second)
	require.LessOrEqual(t, ttl, Window)

	for range 60 {
		require.NoError(t, r.Undo(ctx, "k", 60))
	}
	require.Zero(t, client.Exists(ctx, prefix+"k").Val())
	require.NoError(t, r.Undo(ctx, "k", 60))
	require.Zero(t, client.Exists(ctx, prefix+"k").Val(), "and undo writes no key")
}

func TestRedisInstancesShareAQuota(t *testing.T) {
	t.Parallel()
	prefix := redistest.Name("enhance-test:rl:")
	c := newClock()
	// Two instances: each its own client (its own connections) and
	// limiter, one Redis.
	a := newTestRedis(t, redistest.New(t), prefix, c.Now)
	b := newTestRedis(t, redistest.New(t), prefix, c.Now)
	for i := range 30 {
		require.True(t, allow(t, a, "k", 60).Allowed, "request %d on a", i)
		require.True(t, allow(t, b, "k", 60).Allowed, "request %d on b", i)
	}
	require.False(t, allow(t, a, "k", 60).Allowed)
	require.False(t, allow(t, b, "k", 60).Allowed)
	require.NoError(t, a.Undo(context.Background(), "k", 60))
	require.True(t, allow(t, b, "k", 60).Allowed, "a share given back on a is b's to take")
}

func TestRedisOnTheServersClock(t *testing.T) {
	t.Parallel()
	r := newTestRedis(t, redistest.New(t), redistest.Name("enhance-test:rl:"), nil)
	for i := range 3 {
		d := allow(t, r, "k", 3)
		require.True(t, d.Allowed, "request %d", i)
		require.Equal(t, 2-i, d.Remaining)
	}
	d := allow(t, r, "k", 3)
	require.False(t, d.Allowed)
	require.Greater(t, d.RetryAfter, time.Duration(0))
	require.LessOrEqual(t, d.RetryAfter, 20*time.Second, "one request of 3 a minute comes back within 20 s")
	require.NoError(t, r.Undo(context.Background(), "k", 3))
	require.True(t, allow(t, r, "k", 3).Allowed)
}

func TestRedisRefusesWhatItCannotCount(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()

	_, err = NewRedis(nil, KeyPrefix, nil)
	require.Error(t, err)
	_, err = NewRedis(client, "", nil)
	require.Error(t, err)

	r := newTestRedis(t, client, KeyPrefix, nil)
	for _, limit := range []int{0, -1, maxLimit + 1} {
		_, err := r.Allow(context.Background(), "k", limit)
		require.ErrorIs(t, err, errLimit, "limit %d", limit)
		require.ErrorIs(t, r.Undo(context.Background(), "k", limit), errLimit, "limit %d", limit)
	}
}
