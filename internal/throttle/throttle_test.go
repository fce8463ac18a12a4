package throttle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiterBlocksAfterTheLimitAndForgets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := New(3, time.Minute, 5*time.Minute, func() time.Time { return now })
	for range 3 {
		require.False(t, l.Fail("192.0.2.1"))
	}
	_, blocked := l.Blocked("192.0.2.1")
	require.False(t, blocked, "the limit itself is allowed")
	require.True(t, l.Fail("192.0.2.1"))
	left, blocked := l.Blocked("192.0.2.1")
	require.True(t, blocked)
	require.Equal(t, 5*time.Minute, left)
	_, blocked = l.Blocked("192.0.2.2")
	require.False(t, blocked, "other keys are not affected")

	now = now.Add(5 * time.Minute)
	_, blocked = l.Blocked("192.0.2.1")
	require.False(t, blocked, "the block ends")
	require.False(t, l.Fail("192.0.2.1"), "and the count starts again")

	l.Reset("192.0.2.1")
	for range 3 {
		require.False(t, l.Fail("192.0.2.1"))
	}
}

func TestLimiterWindowRestarts(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := New(2, time.Minute, time.Minute, func() time.Time { return now })
	require.False(t, l.Fail("k"))
	require.False(t, l.Fail("k"))
	now = now.Add(time.Minute)
	require.False(t, l.Fail("k"), "failures in an old window do not count")
}
