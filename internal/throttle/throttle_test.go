package throttle

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func newThrottle(t *testing.T, now *time.Time) *Throttle {
	t.Helper()
	db, err := storesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "enhance.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	th, err := New(db, func() time.Time { return *now })
	require.NoError(t, err)
	return th
}

var (
	pairRule    = Rule{Name: "pair", What: "failed sign-ins for this account from this address", Limit: 3, Window: 24 * time.Hour, Block: time.Minute, MaxBlock: time.Hour}
	addressRule = Rule{Name: "address", What: "failed sign-ins from this address", Limit: 5, Window: 15 * time.Minute, Block: 15 * time.Minute}
)

func TestReservationsHoldTheirPlaceUntilSettled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle(t, &now)
	pair, address := pairRule.On("ann@example.com", "192.0.2.1"), addressRule.On("192.0.2.1")

	// Three in flight fill the pair's limit: a fourth is refused before
	// any of them is settled, naming what it counts.
	var held []*Reservation
	for range 3 {
		r, err := th.Reserve(ctx, pair, address)
		require.NoError(t, err)
		held = append(held, r)
	}
	_, err := th.Reserve(ctx, pair, address)
	var te *Error
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, ErrThrottled)
	require.Equal(t, pairRule.What, te.What)
	require.Equal(t, "too many failed sign-ins for this account from this address; try again in 60 seconds", te.Error())
	require.Equal(t, time.Minute, te.RetryDelay())

	// The same account from another address is not affected.
	r, err := th.Reserve(ctx, pairRule.On("ann@example.com", "198.51.100.9"), addressRule.On("198.51.100.9"))
	require.NoError(t, err)
	require.NoError(t, r.Release(ctx))

	// A success releases its place and forgets the pair's failures; the
	// address keeps its own.
	require.NoError(t, held[0].Keep(ctx))
	require.NoError(t, held[1].Forget(ctx, pairRule))
	require.NoError(t, held[1].Keep(ctx), "a second settlement does nothing")
	require.NoError(t, held[2].Keep(ctx))
	require.NoError(t, th.Check(ctx, pair), "one failure left after the success: below the limit")
	for range 3 {
		require.NoError(t, th.Fail(ctx, addressRule.On("192.0.2.1")))
	}
	// The address now holds its 5: sign-ins from it, to any account, wait.
	err = th.Check(ctx, pairRule.On("bob@example.com", "192.0.2.1"), addressRule.On("192.0.2.1"))
	require.ErrorAs(t, err, &te)
	require.Equal(t, addressRule.What, te.What)
	require.Equal(t, 15*time.Minute, te.RetryAfter)
}

func TestSettlingOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle(t, &now)
	key := Rule{Name: "k", What: "attempts", Limit: 1, Window: time.Hour, Block: time.Hour}.On("192.0.2.1")
	// A caller who hangs up as soon as the hash is done still has its
	// failure counted.
	ctx, cancel := context.WithCancel(context.Background())
	r, err := th.Reserve(ctx, key)
	require.NoError(t, err)
	cancel()
	require.NoError(t, r.Keep(ctx))
	require.ErrorIs(t, th.Check(context.Background(), key), ErrThrottled)
}

func TestParallelFailuresCountExactlyTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newThrottle(t, &now)
	rule := Rule{Name: "auth", What: "failed authentications from this address", Limit: 21, Window: time.Minute, Block: 5 * time.Minute}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 60 {
		wg.Go(func() { errs <- th.Fail(ctx, rule.On("192.0.2.1")) })
	}
	wg.Wait()
	close(errs)
	counted, refused := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			counted++
		case errors.Is(err, ErrThrottled):
			refused++
		default:
			t.Fatal(err)
		}
	}
	require.Equal(t, 21, counted)
	require.Equal(t, 39, refused)
	now = now.Add(5 * time.Minute)
	require.NoError(t, th.Check(ctx, rule.On("192.0.2.1")), "the block ends")
}

// BenchmarkCheck is what every authenticated request pays twice: one read
// of the address's count and of its attempts in flight.
func BenchmarkCheck(b *testing.B) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newBenchThrottle(b, &now)
	key := Rule{Name: "auth", What: "failed authentications", Limit: 21, Window: time.Minute, Block: 5 * time.Minute}.On("192.0.2.1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := th.Check(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReserveRelease is what a sign-in or registration pays in the
// database before and after its hash: two write transactions.
func BenchmarkReserveRelease(b *testing.B) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	th := newBenchThrottle(b, &now)
	ctx := context.Background()
	pair, address := pairRule.On("ann@example.com", "192.0.2.1"), addressRule.On("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		r, err := th.Reserve(ctx, pair, address)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchThrottle(b *testing.B, now *time.Time) *Throttle {
	b.Helper()
	db, err := storesqlite.Open(context.Background(), filepath.Join(b.TempDir(), "enhance.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	th, err := New(db, func() time.Time { return *now })
	if err != nil {
		b.Fatal(err)
	}
	return th
}

// stuckStore holds every ReserveAttempt until unstick is closed: a
// database slow under a flood.
type stuckStore struct {
	*storesqlite.Store
	entered chan struct{}
	unstick chan struct{}
}

func (s stuckStore) ReserveAttempt(ctx context.Context, limits []store.ThrottleLimit, now, hold time.Time) (int64, error) {
	s.entered <- struct{}{}
	<-s.unstick
	return s.Store.ReserveAttempt(ctx, limits, now, hold)
}

// TestWaitingToWriteEndsWithTheRequest: a request waiting for its turn
// to write gives up when its context ends, not when the writer before it
// is done.
func TestWaitingToWriteEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	db, err := storesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "enhance.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	stuck := stuckStore{Store: db, entered: make(chan struct{}, 2), unstick: make(chan struct{})}
	th, err := New(stuck, nil)
	require.NoError(t, err)

	first := make(chan error, 1)
	go func() {
		_, err := th.Reserve(context.Background(), addressRule.On("192.0.2.1"))
		first <- err
	}()
	<-stuck.entered // the first holds the turn, stuck in the database

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := th.Reserve(ctx, addressRule.On("192.0.2.2"))
		second <- err
	}()
	cancel()
	select {
	case err := <-second:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(time.Minute):
		t.Fatal("a cancelled request still waits for its turn to write")
	}
	close(stuck.unstick)
	require.NoError(t, <-first)
}
