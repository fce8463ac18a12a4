package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// counted is the count after n attempts counted at t0.
func counted(l store.ThrottleLimit, n int) store.ThrottleCount {
	var c store.ThrottleCount
	for range n {
		c = c.Counted(l, t0)
	}
	return c
}

func TestThrottleCountBlock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		block, maxBlock time.Duration
		// blocks[i] is the block left by attempt i+1 (Limit is 2).
		blocks []time.Duration
	}{
		{"doubles up to its cap", time.Minute, 4 * time.Minute,
			[]time.Duration{0, time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute}},
		{"a cap between doublings", time.Minute, 3 * time.Minute,
			[]time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute}},
		{"no cap: fixed", time.Minute, 0,
			[]time.Duration{0, time.Minute, time.Minute, time.Minute}},
		{"a cap below the block: fixed", time.Minute, time.Second,
			[]time.Duration{0, time.Minute, time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := store.ThrottleLimit{Key: "k", Limit: 2, Window: time.Hour, Block: tt.block, MaxBlock: tt.maxBlock}
			for i, want := range tt.blocks {
				c := counted(l, i+1)
				require.Equal(t, i+1, c.Attempts)
				require.Equal(t, t0, c.WindowStart, "the window starts at the first attempt")
				if want == 0 {
					require.True(t, c.BlockedUntil.IsZero(), "attempt %d below the limit blocks", i+1)
					continue
				}
				require.Equal(t, t0.Add(want), c.BlockedUntil, "attempt %d", i+1)
				wait, refused := c.Refuses(l, 0, t0)
				require.True(t, refused, "attempt %d: blocked", i+1)
				require.Equal(t, want, wait, "attempt %d", i+1)
			}
		})
	}
}

func TestThrottleCountAt(t *testing.T) {
	t.Parallel()
	l := store.ThrottleLimit{Key: "k", Limit: 3, Window: time.Hour, Block: 2 * time.Hour}
	below := counted(l, 2)   // no block: the window alone keeps it
	blocked := counted(l, 3) // blocked past the window's end
	short := counted(l, 3)   // a block that ends inside the window
	short.BlockedUntil = t0.Add(time.Minute)
	tests := []struct {
		name string
		c    store.ThrottleCount
		at   time.Time
		kept bool
	}{
		{"inside the window", below, t0.Add(time.Hour - time.Nanosecond), true},
		{"the window ended", below, t0.Add(time.Hour), false},
		{"blocked past the window", blocked, t0.Add(90 * time.Minute), true},
		{"the block ended after the window", blocked, t0.Add(2 * time.Hour), false},
		{"a block ended inside the window", short, t0.Add(30 * time.Minute), true},
		{"both over", short, t0.Add(time.Hour), false},
		{"nothing counted", store.ThrottleCount{}, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.c.At(l, tt.at)
			if tt.kept {
				require.Equal(t, tt.c, got)
			} else {
				require.Equal(t, store.ThrottleCount{}, got)
			}
		})
	}
}

func TestThrottleCountCountedInNewWindow(t *testing.T) {
	t.Parallel()
	l := store.ThrottleLimit{Key: "k", Limit: 3, Window: time.Hour, Block: time.Minute}
	c := counted(l, 2).At(l, t0.Add(time.Hour)).Counted(l, t0.Add(time.Hour))
	require.Equal(t, store.ThrottleCount{Attempts: 1, WindowStart: t0.Add(time.Hour)}, c,
		"the window that ended is forgotten: a new one starts")
	c = counted(l, 1).Counted(l, t0.Add(time.Minute))
	require.Equal(t, t0, c.WindowStart, "a later attempt keeps the window")
}

func TestThrottleCountRefuses(t *testing.T) {
	t.Parallel()
	l := store.ThrottleLimit{Key: "k", Limit: 3, Window: time.Hour, Block: time.Minute, MaxBlock: time.Hour}
	// past is past the limit, its block over inside the window.
	past := counted(l, 3)
	now := past.BlockedUntil
	tests := []struct {
		name    string
		c       store.ThrottleCount
		pending int
		wait    time.Duration
		refused bool
	}{
		{"nothing counted", store.ThrottleCount{}, 0, 0, false},
		{"in flight below the limit", store.ThrottleCount{}, 2, 0, false},
		{"in flight reach the limit", store.ThrottleCount{}, 3, time.Minute, true},
		{"counted and in flight reach the limit", counted(l, 1), 2, time.Minute, true},
		{"counted and in flight past the limit: their block", counted(l, 2), 3, 4 * time.Minute, true},
		{"past the limit, none in flight: one may pass", past, 0, 0, false},
		{"past the limit, one in flight: refused", past, 1, 2 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wait, refused := tt.c.Refuses(l, tt.pending, now)
			require.Equal(t, tt.refused, refused)
			require.Equal(t, tt.wait, wait)
		})
	}
	t.Run("blocked: until the block ends", func(t *testing.T) {
		t.Parallel()
		wait, refused := past.Refuses(l, 0, now.Add(-20*time.Second))
		require.True(t, refused)
		require.Equal(t, 20*time.Second, wait)
	})
}

func TestThrottleCountExpiry(t *testing.T) {
	t.Parallel()
	l := store.ThrottleLimit{Key: "k", Limit: 2, Window: time.Hour, Block: 3 * time.Hour}
	require.Equal(t, t0.Add(time.Hour), counted(l, 1).Expiry(l), "no block: the window's end")
	require.Equal(t, t0.Add(3*time.Hour), counted(l, 2).Expiry(l), "a block past the window: its end")
	short := counted(l, 2)
	short.BlockedUntil = t0.Add(time.Minute)
	require.Equal(t, t0.Add(time.Hour), short.Expiry(l), "a block inside the window: the window's end")
}

func TestCheckThrottleLimits(t *testing.T) {
	t.Parallel()
	ok := store.ThrottleLimit{Key: "a", Limit: 1, Window: time.Hour, Block: time.Minute}
	with := func(f func(l *store.ThrottleLimit)) store.ThrottleLimit {
		l := ok
		f(&l)
		return l
	}
	tests := []struct {
		name   string
		limits []store.ThrottleLimit
		ok     bool
	}{
		{"none", nil, true},
		{"one", []store.ThrottleLimit{ok}, true},
		{"two keys", []store.ThrottleLimit{ok, with(func(l *store.ThrottleLimit) { l.Key = "b" })}, true},
		{"a key twice", []store.ThrottleLimit{ok, ok}, false},
		{"no key", []store.ThrottleLimit{with(func(l *store.ThrottleLimit) { l.Key = "" })}, false},
		{"no limit", []store.ThrottleLimit{with(func(l *store.ThrottleLimit) { l.Limit = 0 })}, false},
		{"no window", []store.ThrottleLimit{with(func(l *store.ThrottleLimit) { l.Window = 0 })}, false},
		{"no block", []store.ThrottleLimit{with(func(l *store.ThrottleLimit) { l.Block = 0 })}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := store.CheckThrottleLimits(tt.limits)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestNewThrottleReservation(t *testing.T) {
	t.Parallel()
	seen := map[int64]bool{}
	for range 1000 {
		id, err := store.NewThrottleReservation()
		require.NoError(t, err)
		require.Positive(t, id)
		require.False(t, seen[id], "ids repeat")
		seen[id] = true
	}
}
