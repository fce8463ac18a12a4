package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLocal(t *testing.T) {
	t.Parallel()
	testLimiter(t, func(t *testing.T, now func() time.Time) Limiter { return NewLocal(now) })
}

// clock is a test's time, which moves only when the test says.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	// Not on a whole second, so that a time written with too few digits
	// shows; the nanoseconds are below what Redis counts.
	return &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 123_456_789, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testLimiter is the behaviour every Limiter shares, run against each
// implementation; open returns a new limiter on the clock now, whose keys
// no other limiter it returned sees.
func testLimiter(t *testing.T, open func(t *testing.T, now func() time.Time) Limiter) {
	tests := []struct {
		name string
		run  func(t *testing.T, l Limiter, c *clock)
	}{
		{"a minute's quota at once, then a refusal saying when to come back", func(t *testing.T, l Limiter, _ *clock) {
			for _, limit := range []int{1, 3, 60, 600} {
				key := "k" + strconv.Itoa(limit)
				interval := Window / time.Duration(limit)
				for i := range limit {
					d := allow(t, l, key, limit)
					require.Equal(t, Decision{Allowed: true, Limit: limit, Remaining: limit - 1 - i, Reset: time.Duration(i+1) * interval}, d, "limit %d, request %d", limit, i)
				}
				for range 3 {
					d := allow(t, l, key, limit)
					require.Equal(t, Decision{Limit: limit, Reset: Window, RetryAfter: interval}, d, "limit %d: refused, and a refusal takes nothing", limit)
				}
			}
		}},
		{"one request comes back every interval", func(t *testing.T, l Limiter, c *clock) {
			spend(t, l, "k", 60)
			c.Add(400 * time.Millisecond)
			require.Equal(t, Decision{Limit: 60, Reset: Window - 400*time.Millisecond, RetryAfter: 600 * time.Millisecond}, allow(t, l, "k", 60))
			c.Add(600 * time.Millisecond)
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 0, Reset: Window}, allow(t, l, "k", 60))
			require.False(t, allow(t, l, "k", 60).Allowed)
			c.Add(30 * time.Second)
			for i := range 30 {
				require.True(t, allow(t, l, "k", 60).Allowed, "half a minute gives back half the quota: request %d", i)
			}
			require.False(t, allow(t, l, "k", 60).Allowed)
		}},
		{"idle time banks no more than a minute's quota", func(t *testing.T, l Limiter, c *clock) {
			spend(t, l, "k", 60)
			c.Add(time.Hour)
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 59, Reset: time.Second}, allow(t, l, "k", 60))
		}},
		{"undo gives back one interval", func(t *testing.T, l Limiter, _ *clock) {
			ctx := context.Background()
			spend(t, l, "k", 60)
			require.NoError(t, l.Undo(ctx, "k", 60))
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 0, Reset: Window}, allow(t, l, "k", 60), "the undone request's share is back")
			require.False(t, allow(t, l, "k", 60).Allowed)

			require.Equal(t, 59, allow(t, l, "one", 60).Remaining)
			require.NoError(t, l.Undo(ctx, "one", 60))
			require.NoError(t, l.Undo(ctx, "one", 60), "undoing past a whole quota")
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 59, Reset: time.Second}, allow(t, l, "one", 60), "banks nothing")

			require.NoError(t, l.Undo(ctx, "never-used", 60), "undo of an unknown key is harmless")
			require.Equal(t, 59, allow(t, l, "never-used", 60).Remaining)
		}},
		{"keys are independent", func(t *testing.T, l Limiter, _ *clock) {
			spend(t, l, "a", 60)
			require.Equal(t, Decision{Allowed: true, Limit: 60, Remaining: 59, Reset: time.Second}, allow(t, l, "b", 60))
			require.False(t, allow(t, l, "a", 60).Allowed)
		}},
		{"each limit has its own interval", func(t *testing.T, l Limiter, c *clock) {
			spend(t, l, "slow", 2)
			spend(t, l, "fast", 120)
			require.Equal(t, 30*time.Second, allow(t, l, "slow", 2).RetryAfter)
			require.Equal(t, 500*time.Millisecond, allow(t, l, "fast", 120).RetryAfter)
			c.Add(500 * time.Millisecond)
			require.True(t, allow(t, l, "fast", 120).Allowed)
			require.False(t, allow(t, l, "slow", 2).Allowed)
		}},
		{"concurrent requests take exactly the quota", func(t *testing.T, l Limiter, _ *clock) {
			const goroutines, calls, limit = 16, 40, 300
			var (
				wg             sync.WaitGroup
				mu             sync.Mutex
				allowed, tries int
				errs           []error
			)
			for range goroutines {
				wg.Go(func() {
					for range calls {
						d, err := l.Allow(context.Background(), "k", limit)
						mu.Lock()
						tries++
						if err != nil {
							errs = append(errs, err)
						} else if d.Allowed {
							allowed++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Empty(t, errs)
			require.Equal(t, goroutines*calls, tries)
			require.Equal(t, limit, allowed)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			tt.run(t, open(t, c.Now), c)
		})
	}
}

func allow(t *testing.T, l Limiter, key string, limit int) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, limit)
	require.NoError(t, err)
	return d
}

// spend takes key's whole quota and checks that it is whole no more.
func spend(t *testing.T, l Limiter, key string, limit int) {
	t.Helper()
	for i := range limit {
		require.True(t, allow(t, l, key, limit).Allowed, "request %d of %d", i, limit)
	}
	require.False(t, allow(t, l, key, limit).Allowed, "the quota is spent")
}
