package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// requireReconciled fails t unless every counter of s adds up to its
// ledger.
func requireReconciled(t *testing.T, s store.Store) {
	t.Helper()
	mismatches, err := s.Reconcile(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches, "every counter adds up to its ledger")
}

// ledgerTotals sums an account's period from its entries, page by page.
func ledgerTotals(t *testing.T, s store.Store, accountID string, periodStart time.Time) store.Totals {
	t.Helper()
	var (
		sum   store.Totals
		after int64
	)
	for {
		page, err := s.LedgerEntries(context.Background(), accountID, periodStart, after, 37)
		require.NoError(t, err)
		if len(page) == 0 {
			return sum
		}
		for _, e := range page {
			require.Equal(t, accountID, e.AccountID)
			require.Equal(t, periodStart, e.PeriodStart)
			switch e.Kind {
			case store.EntryCharge:
				sum.Charged += e.Amount
			case store.EntryRefund:
				sum.Refunded += e.Amount
			case store.EntryGrant:
				sum.Granted += e.Amount
			}
		}
		after = page[len(page)-1].ID
	}
}

// countersAddUpToTheLedger builds a varied history (charges committed,
// refunded, left pending, refunded as stale or interrupted, reserved from
// many goroutines at once; grants; two periods; two accounts and one
// erased) and checks that every balance is its ledger's sums and that
// Reconcile finds nothing.
func countersAddUpToTheLedger(t *testing.T, s store.Store) {
	ctx := context.Background()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
	seedAccount(t, s, "a1", "a1@example.com", "k1", now)
	seedAccount(t, s, "a2", "a2@example.com", "k2", now)
	seedAccount(t, s, "gone", "gone@example.com", "k3", now)
	grants := map[string]int{"free": 100_000}

	type reservation struct {
		account, key, instance string
		period, at             time.Time
		amount                 int
	}
	reserve := func(r reservation) (store.LedgerEntry, error) {
		c, _, err := s.Reserve(ctx, store.LedgerEntry{AccountID: r.account, KeyID: r.key, PeriodStart: r.period, Amount: r.amount,
			Operation: "enhance", RequestID: fmt.Sprintf("%s-%s-%d", r.account, r.at.Format(time.RFC3339Nano), r.amount),
			Time: r.at, Instance: r.instance}, grants)
		return c, err
	}

	// Many goroutines reserve at once in both accounts and periods; each
	// commits, refunds (some a month later, into the charge's period) or
	// leaves its charge pending.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		stale  int
		killed int
	)
	for g := range 48 {
		wg.Go(func() {
			for i := range 6 {
				r := reservation{account: "a1", key: "k1", instance: "live", period: nov, at: now.Add(time.Duration(g*10+i) * time.Millisecond), amount: 1 + (g+i)%4}
				if g%2 == 1 {
					r.account, r.key = "a2", "k2"
				}
				if g%3 == 0 {
					r.period = dec
				}
				switch i {
				case 4:
					r.at, r.instance = now.Add(-2*time.Hour), "old" // refunded as stale below
				case 5:
					r.instance = "dead" // refunded as interrupted below
				}
				c, err := reserve(r)
				if err == nil {
					switch i {
					case 0:
						err = s.Settle(ctx, c.ID, true, now)
					case 1:
						err = s.Settle(ctx, c.ID, false, now)
					case 2:
						err = s.Settle(ctx, c.ID, false, dec.Add(time.Hour))
					}
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				switch i {
				case 4:
					stale++
				case 5:
					killed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)

	n, err := s.RefundStale(ctx, now.Add(-time.Hour), now)
	require.NoError(t, err)
	require.Equal(t, stale, n)
	n, err = s.RefundInterrupted(ctx, "dead", now)
	require.NoError(t, err)
	require.Equal(t, killed, n)
	for _, g := range []store.LedgerEntry{
		{AccountID: "a1", PeriodStart: nov, Amount: 7, Operation: "goodwill", Time: now},
		{AccountID: "a1", PeriodStart: dec, Amount: 11, Operation: "goodwill", Time: now},
		{AccountID: "a2", PeriodStart: dec, Amount: 3, Operation: "goodwill", Time: now},
		{AccountID: "gone", PeriodStart: nov, Amount: 5, Operation: "goodwill", Time: now},
	} {
		require.NoError(t, s.Grant(ctx, g))
	}
	c, err := reserve(reservation{account: "gone", key: "k3", period: nov, at: now, amount: 2})
	require.NoError(t, err)
	require.NoError(t, s.Settle(ctx, c.ID, false, now))
	_, err = reserve(reservation{account: "gone", key: "k3", period: dec, at: now, amount: 3})
	require.NoError(t, err)
	_, _, err = s.Reserve(ctx, store.LedgerEntry{AccountID: "a1", KeyID: "k1", PeriodStart: nov, Amount: 1_000_000, Time: now}, grants)
	require.ErrorIs(t, err, store.ErrInsufficientCredits, "a refused charge counts nothing")
	require.NoError(t, s.DeleteAccount(ctx, "gone"))

	for _, account := range []string{"a1", "a2"} {
		for _, period := range []time.Time{nov, dec} {
			sum := ledgerTotals(t, s, account, period)
			require.NotZero(t, sum.Charged, "%s %s has charges", account, period)
			require.NotZero(t, sum.Refunded, "%s %s has refunds", account, period)
			bal, err := s.Balance(ctx, account, period, grants)
			require.NoError(t, err)
			require.Equal(t, store.Balance{Granted: grants["free"] + sum.Granted, Used: sum.Charged - sum.Refunded}, bal, "%s %s", account, period)
		}
	}
	_, err = s.Balance(ctx, "gone", nov, grants)
	require.ErrorIs(t, err, store.ErrNotFound)
	entries, err := s.AllLedgerEntries(ctx, "gone", 0, 100)
	require.NoError(t, err)
	require.Empty(t, entries)
	requireReconciled(t, s)
}

// ReconcileFindsTampering checks that Reconcile finds a counter that does
// not add up to its ledger, and that Balance reads the counter rather
// than summing the ledger. No method of a store can make them differ, so
// each implementation's own tests run this with setCounter, which sets
// the stored counter of an account's period behind the store's back (to
// totals, or deletes it when totals is nil).
func ReconcileFindsTampering(t *testing.T, s store.Store, setCounter func(t *testing.T, accountID string, periodStart time.Time, totals *store.Totals)) {
	ctx := context.Background()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	seedAccount(t, s, "a1", "a1@example.com", "k1", now)
	seedAccount(t, s, "a2", "a2@example.com", "k2", now)
	grants := map[string]int{"free": 50}
	for _, account := range []string{"a1", "a2"} {
		c, _, err := s.Reserve(ctx, store.LedgerEntry{AccountID: account, KeyID: "k", PeriodStart: nov, Amount: 3, Operation: "enhance", Time: now}, grants)
		require.NoError(t, err)
		require.NoError(t, s.Settle(ctx, c.ID, false, now))
		_, _, err = s.Reserve(ctx, store.LedgerEntry{AccountID: account, KeyID: "k", PeriodStart: nov, Amount: 4, Operation: "enhance", Time: now}, grants)
		require.NoError(t, err)
		require.NoError(t, s.Grant(ctx, store.LedgerEntry{AccountID: account, PeriodStart: nov, Amount: 2, Time: now}))
	}
	requireReconciled(t, s)
	right := store.Totals{Charged: 7, Refunded: 3, Granted: 2}

	off := right
	off.Charged++
	setCounter(t, "a1", nov, &off)
	bal, err := s.Balance(ctx, "a1", nov, grants)
	require.NoError(t, err)
	require.Equal(t, store.Balance{Granted: 52, Used: 5}, bal, "the balance is the counter's")
	setCounter(t, "a2", nov, nil)
	setCounter(t, "a2", dec, &store.Totals{Granted: 9})
	mismatches, err := s.Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.Mismatch{
		{AccountID: "a1", PeriodStart: nov, Counter: off, Ledger: right},
		{AccountID: "a2", PeriodStart: nov, Ledger: right},
		{AccountID: "a2", PeriodStart: dec, Counter: store.Totals{Granted: 9}},
	}, mismatches)

	setCounter(t, "a1", nov, &right)
	setCounter(t, "a2", nov, &right)
	setCounter(t, "a2", dec, nil)
	requireReconciled(t, s)
}
