package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLocalAllowsAMinutesQuotaThenOnePerInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := NewLocal(func() time.Time { return now })
	for i := range 60 {
		d, err := l.Allow(ctx, "k", 60)
		require.NoError(t, err)
		require.True(t, d.Allowed, "request %d", i)
		require.Equal(t, 59-i, d.Remaining)
	}
	d, err := l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, 0, d.Remaining)
	require.Equal(t, time.Second, d.RetryAfter)
	require.Equal(t, time.Minute, d.Reset)

	other, err := l.Allow(ctx, "other", 60)
	require.NoError(t, err)
	require.True(t, other.Allowed, "keys are independent")

	now = now.Add(time.Second)
	d, err = l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.True(t, d.Allowed, "one request comes back every second")
	d, err = l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.False(t, d.Allowed)

	now = now.Add(time.Hour)
	d, err = l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.Equal(t, 59, d.Remaining, "idle time does not bank more than a minute")
}

func TestUndoGivesBackWhatAnAllowedRequestTook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := NewLocal(func() time.Time { return now })
	for range 60 {
		d, err := l.Allow(ctx, "k", 60)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	d, err := l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.False(t, d.Allowed, "the quota is spent")
	require.NoError(t, l.Undo(ctx, "k", 60))
	d, err = l.Allow(ctx, "k", 60)
	require.NoError(t, err)
	require.True(t, d.Allowed, "the undone request's share is back")
	require.NoError(t, l.Undo(ctx, "never-used", 60), "undo of an unknown key is harmless")
}
