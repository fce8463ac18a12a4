package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/logtest"
	"github.com/smartimage/enhance/internal/redisclient"
	"github.com/smartimage/enhance/internal/redisclient/redistest"
)

// TestFailover runs the behaviour suite through a Failover whose primary
// answers: it must decide exactly as its primary does.
func TestFailover(t *testing.T) {
	t.Parallel()
	testLimiter(t, func(t *testing.T, now func() time.Time) Limiter {
		f, err := NewFailover(FailoverConfig{Now: now}, NewLocal(now), NewLocal(now), slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		return f
	})
}

// flaky is a real limiter that can be switched off, failing as an
// unreachable Redis does, and that counts the calls reaching it.
type flaky struct {
	Limiter
	down         atomic.Bool
	allows, undo atomic.Int64
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (l *flaky) Allow(ctx context.Context, key string, limit int) (Decision, error) {
	l.allows.Add(1)
	if l.down.Load() {
		return Decision{}, errUnreachable
	}
	return l.Limiter.Allow(ctx, key, limit)
}

func (l *flaky) Undo(ctx context.Context, key string, limit int) error {
	l.undo.Add(1)
	if l.down.Load() {
		return errUnreachable
	}
	return l.Limiter.Undo(ctx, key, limit)
}

type failoverFixture struct {
	f        *Failover
	primary  *flaky
	fallback *Local
	clock    *clock
	logs     *logtest.Buffer
}

func newFailoverFixture(t *testing.T) *failoverFixture {
	t.Helper()
	x := &failoverFixture{clock: newClock(), logs: &logtest.Buffer{}}
	x.primary = &flaky{Limiter: NewLocal(x.clock.Now)}
	x.fallback = NewLocal(x.clock.Now)
	f, err := NewFailover(FailoverConfig{Now: x.clock.Now}, x.primary, x.fallback, slog.New(slog.NewTextHandler(x.logs, nil)))
	require.NoError(t, err)
	x.f = f
	return x
}

func TestFailoverDecidesInProcessWhilePrimaryFails(t *testing.T) {
	t.Parallel()
	x := newFailoverFixture(t)
	require.True(t, x.f.Shared())
	for range 10 {
		allow(t, x.f, "k", 60)
	}

	x.primary.down.Store(true)
	for i := range 5 {
		d := allow(t, x.f, "k", 60)
		require.True(t, d.Allowed)
		require.Equal(t, 59-i, d.Remaining, "the fallback's own count, which began when it was first asked")
	}
	require.False(t, x.f.Shared())
	require.EqualValues(t, 5, x.f.Fallbacks())
	require.EqualValues(t, 11, x.primary.allows.Load(), "after the failure, the primary is left alone")
	require.Equal(t, 1, x.logs.Count("level=WARN"), "one line for the outage")

	x.clock.Add(DefaultRetry - time.Millisecond)
	allow(t, x.f, "k", 60)
	require.EqualValues(t, 11, x.primary.allows.Load())
	x.clock.Add(time.Millisecond)
	allow(t, x.f, "k", 60)
	allow(t, x.f, "k", 60)
	require.EqualValues(t, 12, x.primary.allows.Load(), "one request tries again after a Retry")
	require.False(t, x.f.Shared())
	require.Equal(t, 1, x.logs.Count("level=WARN"), "a failed retry says nothing new")

	x.primary.down.Store(false)
	x.clock.Add(DefaultRetry)
	require.Equal(t, 51, allow(t, x.f, "k", 60).Remaining, "the primary's count again: 11 taken, 2 s of them back")
	require.True(t, x.f.Shared())
	require.Equal(t, 1, x.logs.Count("level=INFO"), "one line for the return")
	require.Equal(t, 1, x.logs.Count("fallback_decisions=8"))
	allow(t, x.f, "k", 60)
	require.EqualValues(t, 14, x.primary.allows.Load())
	require.EqualValues(t, 8, x.f.Fallbacks())
}

func TestFailoverTriesAnAbsentPrimaryOnceARetry(t *testing.T) {
	t.Parallel()
	x := newFailoverFixture(t)
	x.primary.down.Store(true)
	allow(t, x.f, "k", 60)
	x.clock.Add(DefaultRetry)
	// Many requests at once past the retry time: one of them tries.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			_, err := x.f.Allow(context.Background(), "k", 1000)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 2, x.primary.allows.Load())
	require.EqualValues(t, 65, x.f.Fallbacks())
}

func TestFailoverUndoesWithTheLimiterThatTookTheShare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	x := newFailoverFixture(t)
	remaining := func(l Limiter, key string) int {
		t.Helper()
		d := allow(t, l, key, 60)
		require.NoError(t, l.Undo(ctx, key, 60))
		return d.Remaining + 1
	}

	allow(t, x.f, "shared", 60)
	x.primary.down.Store(true)
	allow(t, x.f, "local", 60)
	require.ErrorIs(t, x.f.Undo(ctx, "shared", 60), errShareLost, "the primary took it, and is down")
	require.EqualValues(t, 0, x.primary.undo.Load(), "and is not asked while it is down")
	require.Equal(t, 59, remaining(x.primary.Limiter, "shared"), "the lost share stays taken")
	require.NoError(t, x.f.Undo(ctx, "local", 60))
	require.Equal(t, 60, remaining(x.fallback, "local"))

	allow(t, x.f, "local", 60)
	x.primary.down.Store(false)
	x.clock.Add(DefaultRetry)
	allow(t, x.f, "other", 60)
	require.True(t, x.f.Shared())
	require.NoError(t, x.f.Undo(ctx, "local", 60), "after the return, a share the fallback took goes back to it")
	require.Equal(t, 60, remaining(x.fallback, "local"))
	require.EqualValues(t, 0, x.primary.undo.Load())

	allow(t, x.f, "local", 60)
	require.NoError(t, x.f.Undo(ctx, "local", 60), "the key's latest share is the primary's")
	require.EqualValues(t, 1, x.primary.undo.Load())
	require.Equal(t, 60, remaining(x.primary.Limiter, "local"))

	x.primary.down.Store(true)
	allow(t, x.f, "late", 60)
	x.primary.down.Store(false)
	x.clock.Add(Window)
	allow(t, x.f, "other", 60)
	require.NoError(t, x.f.Undo(ctx, "late", 60), "a minute on, the fallback's share has lapsed")
	require.EqualValues(t, 2, x.primary.undo.Load())
}

func TestFailoverPassesOnWhatIsNotAnOutage(t *testing.T) {
	t.Parallel()
	x := newFailoverFixture(t)
	x.primary.down.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := x.f.Allow(ctx, "k", 60)
	require.ErrorIs(t, err, errUnreachable, "the caller left: its error, not a fallback decision")
	require.True(t, x.f.Shared())
	require.Zero(t, x.f.Fallbacks())

	r := newTestRedis(t, closedPortClient(t, nil), KeyPrefix, nil)
	f, err := NewFailover(FailoverConfig{}, r, NewLocal(nil), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	_, err = f.Allow(context.Background(), "k", 0)
	require.ErrorIs(t, err, errLimit, "a limit that cannot be counted is the caller's mistake")
	require.True(t, f.Shared())
}

func TestNewFailoverChecksItsArguments(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	l := NewLocal(nil)
	for _, tt := range []struct {
		name              string
		cfg               FailoverConfig
		primary, fallback Limiter
		log               *slog.Logger
	}{
		{"no primary", FailoverConfig{}, nil, l, log},
		{"no fallback", FailoverConfig{}, l, nil, log},
		{"no logger", FailoverConfig{}, l, l, nil},
		{"a negative retry", FailoverConfig{Retry: -time.Second}, l, l, log},
	} {
		_, err := NewFailover(tt.cfg, tt.primary, tt.fallback, tt.log)
		require.Error(t, err, tt.name)
	}
}

// closedPortClient is a client to a port nothing listens on, which
// counts its dials in dials (when not nil).
func closedPortClient(t *testing.T, dials *atomic.Int64) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	opt, err := redisclient.Options("redis://" + addr + "/0")
	require.NoError(t, err)
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials != nil {
			dials.Add(1)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFailoverServesWithRedisOnAClosedPort(t *testing.T) {
	t.Parallel()
	var dials atomic.Int64
	c := newClock()
	lg := &logtest.Buffer{}
	r := newTestRedis(t, closedPortClient(t, &dials), KeyPrefix, nil)
	f, err := NewFailover(FailoverConfig{Now: c.Now}, r, NewLocal(c.Now), slog.New(slog.NewTextHandler(lg, nil)))
	require.NoError(t, err)

	spend(t, f, "k", 60)
	require.False(t, f.Shared())
	require.EqualValues(t, 61, f.Fallbacks())
	tried := dials.Load()
	require.Positive(t, tried)
	require.LessOrEqual(t, tried, int64(4), "one request's dials (a retry), not one a request")
	require.Equal(t, 1, lg.Count("level=WARN"))
	require.Contains(t, lg.String(), "connection refused")

	require.NoError(t, f.Undo(context.Background(), "k", 60))
	require.True(t, allow(t, f, "k", 60).Allowed, "undone in the limiter that took the share")
	require.Equal(t, tried, dials.Load())
	c.Add(DefaultRetry)
	allow(t, f, "k", 60)
	require.Greater(t, dials.Load(), tried, "tried again after a Retry")
}

func TestFailoverThroughARedisOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// gone makes Redis unreachable.
		gone func(p *redistest.Proxy)
		// late is how many of the requests that failed may still reach
		// Redis once it is back: a request that timed out was sent, and
		// Redis runs it when the network delivers it. Redis can't tell
		// us, so Failover's count is the one it gave the caller.
		late int
	}{
		{"Redis stops: connections refused", (*redistest.Proxy).Cut, 0},
		{"the network drops everything: timeouts", (*redistest.Proxy).Stall, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			redistest.New(t) // fails the test, rather than the failover, if Redis is away
			p := redistest.NewProxy(t)
			client, err := redisclient.New(p.URL())
			require.NoError(t, err)
			t.Cleanup(func() { client.Close() })

			ctx := context.Background()
			c := newClock()
			lg := &logtest.Buffer{}
			primary := &flaky{Limiter: newTestRedis(t, client, redistest.Name("enhance-test:rl:"), c.Now)}
			f, err := NewFailover(FailoverConfig{Now: c.Now}, primary, NewLocal(c.Now), slog.New(slog.NewTextHandler(lg, nil)))
			require.NoError(t, err)

			for range 10 {
				require.True(t, allow(t, f, "k", 60).Allowed)
			}
			require.True(t, f.Shared())

			tt.gone(p)
			d := allow(t, f, "k", 60)
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 59, Reset: time.Second}, d, "the fallback decides, on its own count")
			require.False(t, f.Shared())
			allow(t, f, "k", 60)
			require.EqualValues(t, 11, primary.allows.Load(), "one request found Redis gone; the next did not try")
			require.NoError(t, f.Undo(ctx, "k", 60))
			require.Equal(t, 1, lg.Count("level=WARN"))

			c.Add(DefaultRetry)
			allow(t, f, "k", 60)
			require.False(t, f.Shared(), "still gone a Retry later")
			require.EqualValues(t, 12, primary.allows.Load())

			p.Restore()
			c.Add(DefaultRetry)
			d = allow(t, f, "k", 60)
			require.True(t, f.Shared(), "back")
			require.LessOrEqual(t, d.Remaining, 51, "Redis's count: 11 taken, 2 s of them back")
			require.GreaterOrEqual(t, d.Remaining, 51-tt.late, "and perhaps those that timed out")
			require.Equal(t, 1, lg.Count("level=INFO"))
			require.EqualValues(t, 3, f.Fallbacks())
			require.NoError(t, f.Undo(ctx, "k", 60))
			require.EqualValues(t, 1, primary.undo.Load(), "undone in Redis")
			if tt.late == 0 {
				require.Equal(t, 51, allow(t, f, "k", 60).Remaining)
			}
		})
	}
}
