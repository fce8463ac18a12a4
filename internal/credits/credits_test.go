package credits

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func newLedger(t testing.TB, now *time.Time) (*Ledger, store.Store) {
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.CreateAccount(ctx,
		store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: *now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: *now}))
	l, err := NewLedger(db, "", func() time.Time { return *now })
	require.NoError(t, err)
	return l, db
}

func TestPrices(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, UpscalePrice(1_000_000*4))
	require.Equal(t, 1, UpscalePrice(8_000_000))
	require.Equal(t, 2, UpscalePrice(8_000_001))
	require.Equal(t, 24, UpscalePrice(12_000_000*16))
	start, end := PeriodOf(time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -5*3600)))
	require.Equal(t, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), start, "periods are UTC months")
	require.Equal(t, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), end)
}

func TestMonthBoundary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
	l, _ := newLedger(t, &now)
	c, err := l.Reserve(ctx, "a1", "k1", OpEnhance, "r1", 50)
	require.NoError(t, err, "the whole November grant")
	require.NoError(t, l.Commit(ctx, c))
	_, err = l.Reserve(ctx, "a1", "k1", OpEnhance, "r2", 1)
	var ex *ExhaustedError
	require.ErrorAs(t, err, &ex)
	require.Equal(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ex.RenewTime)
	require.True(t, strings.Contains(ex.Error(), "2026-12-01"), ex.Error())

	now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c, err = l.Reserve(ctx, "a1", "k1", OpEnhance, "r3", 1)
	require.NoError(t, err, "a request one second later is charged to December")
	require.Equal(t, 49, c.Remaining)
	u, err := l.Usage(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, now, u.PeriodStart)
	require.Equal(t, 1, u.Used)

	// A November charge refunded in December goes back to November.
	now = time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
	late, err := l.Reserve(ctx, "a1", "k1", OpEnhance, "r4", 0)
	require.NoError(t, err)
	now = time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
	require.NoError(t, l.Refund(late))
	entries, err := l.Entries(ctx, "a1", 0, 100)
	require.NoError(t, err)
	for _, e := range entries {
		require.NotEqual(t, "r4", e.RequestID, "December's ledger holds only December")
	}
}

func TestMeterChargesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l, _ := newLedger(t, &now)
	m := NewMeter(l, "a1", "k1", "r1")
	_, ok := m.Charged()
	require.False(t, ok)
	require.NoError(t, m.Reserve(ctx, OpEnhance, 1))
	require.True(t, errors.Is(m.Reserve(ctx, OpEnhance, 1), ErrChargedTwice))
	c, ok := m.Charged()
	require.True(t, ok)
	require.Equal(t, 1, c.Amount())
	require.Equal(t, 49, c.Remaining)
}

func TestPlansAndGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l, _ := newLedger(t, &now)
	require.ErrorIs(t, l.SetPlan(ctx, "a1", "platinum"), ErrUnknownPlan)
	require.NoError(t, l.SetPlan(ctx, "a1", "pro"))
	require.NoError(t, l.Grant(ctx, "a1", 10, "support ticket 12"))
	require.Error(t, l.Grant(ctx, "a1", 0, "nothing"))
	u, err := l.Usage(ctx, "a1")
	require.NoError(t, err)
	require.Equal(t, "pro", u.Plan)
	require.Equal(t, Plans["pro"].MonthlyCredits+10, u.Granted)
}

// BenchmarkReserveCommit is what the quota interceptor adds to a charged
// request with SQLite: one reservation and one commit, each a transaction.
func BenchmarkReserveCommit(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l, _ := newLedger(b, &now)
	require.NoError(b, l.Grant(ctx, "a1", 1<<30, "benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		c, err := l.Reserve(ctx, "a1", "k1", OpEnhance, "r", 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
