package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// BenchRows is how many ledger entries BenchmarkLedger seeds into the
// busy account's period: an account doing a million requests a month.
const BenchRows = 1_000_000

// benchWorkers is how many requests are charged at once in the
// throughput benchmarks, as many as the service's image workers.
const benchWorkers = 8

// BenchmarkLedger measures what credits cost a request on s, an empty
// store, with an empty ledger and with BenchRows entries in the account's
// period: reserve latency (p50 and p99 per call), the throughput of
// benchWorkers goroutines each reserving and committing, and the reads of
// usage (Balance, and a page of LedgerEntries and AllLedgerEntries from
// the middle of the ledger). The "empty" benchmarks run first, each on an
// account of its own, before the ledger is seeded.
//
// seed writes rows final charges of 1 credit into the existing account's
// period, and the counter that matches them, straight into the database
// (one statement, not rows calls): it is the one part each
// implementation supplies.
func BenchmarkLedger(b *testing.B, s store.Store, seed func(b *testing.B, accountID string, periodStart time.Time, rows int)) {
	ctx := context.Background()
	now := time.Now().UTC()
	period := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	grants := map[string]int{"free": 1 << 40}
	accounts := 0
	newAccount := func(b *testing.B) string {
		accounts++
		id := fmt.Sprintf("bench%d", accounts)
		require.NoError(b, s.CreateAccount(ctx,
			store.Account{ID: id, Email: id + "@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: id + "-key", AccountID: id, SecretHash: []byte(id), CreateTime: now}))
		return id
	}
	charge := func(accountID string) store.LedgerEntry {
		return store.LedgerEntry{AccountID: accountID, KeyID: accountID + "-key", PeriodStart: period, Amount: 1,
			Operation: "enhance", RequestID: "bench", Time: now, Instance: "bench"}
	}

	// The busy account is seeded on first use, outside the timings.
	busy := ""
	busyAccount := func(b *testing.B) string {
		if busy == "" {
			b.StopTimer()
			busy = newAccount(b)
			start := time.Now()
			seed(b, busy, period, BenchRows)
			b.Logf("seeded %d ledger entries in %v", BenchRows, time.Since(start).Round(time.Millisecond))
			bal, err := s.Balance(ctx, busy, period, grants)
			require.NoError(b, err)
			require.Equal(b, BenchRows, bal.Used, "the seeded counter")
			b.StartTimer()
		}
		return busy
	}
	ledgers := []struct {
		name    string
		account func(b *testing.B) string
	}{
		{"empty", newAccount},
		{"1M", busyAccount},
	}

	for _, l := range ledgers {
		b.Run("Reserve/"+l.name, func(b *testing.B) {
			account := l.account(b)
			c := charge(account)
			took := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				e, _, err := s.Reserve(ctx, c, grants)
				took = append(took, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Settle(ctx, e.ID, true, now); err != nil {
					b.Fatal(err)
				}
			}
			reportPercentiles(b, "reserve", took)
		})
		b.Run("Throughput/"+l.name, func(b *testing.B) {
			account := l.account(b)
			c := charge(account)
			var (
				left = int64(b.N)
				wg   sync.WaitGroup
				errs = make(chan error, benchWorkers)
			)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu := time.Now(), processCPU()
			for range benchWorkers {
				wg.Go(func() {
					for atomic.AddInt64(&left, -1) >= 0 {
						e, _, err := s.Reserve(ctx, c, grants)
						if err == nil {
							err = s.Settle(ctx, e.ID, true, now)
						}
						if err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed, cpu := time.Since(start), processCPU()-cpu
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
			if cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/request")
			}
		})
	}
	for _, l := range ledgers {
		b.Run("Balance/"+l.name, func(b *testing.B) {
			account := l.account(b)
			took := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := s.Balance(ctx, account, period, grants); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			reportPercentiles(b, "read", took)
		})
	}
	// Pages of 100 from the middle of the busy account's ledger, the
	// period's and the whole ledger's.
	pages := []struct {
		name string
		read func(accountID string, after int64) ([]store.LedgerEntry, error)
	}{
		{"LedgerEntries", func(accountID string, after int64) ([]store.LedgerEntry, error) {
			return s.LedgerEntries(ctx, accountID, period, after, 100)
		}},
		{"AllLedgerEntries", func(accountID string, after int64) ([]store.LedgerEntry, error) {
			return s.AllLedgerEntries(ctx, accountID, after, 100)
		}},
	}
	for _, p := range pages {
		b.Run(p.name+"/1M", func(b *testing.B) {
			account := busyAccount(b)
			first, err := p.read(account, 0)
			require.NoError(b, err)
			require.Len(b, first, 100)
			after := first[0].ID + BenchRows/2
			took := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				page, err := p.read(account, after)
				took = append(took, time.Since(start))
				if err != nil || len(page) != 100 {
					b.Fatalf("page after %d: %d entries, %v", after, len(page), err)
				}
			}
			reportPercentiles(b, "page", took)
		})
	}
	if busy != "" {
		start := time.Now()
		mismatches, err := s.Reconcile(ctx)
		require.NoError(b, err)
		require.Empty(b, mismatches, "the seeded ledger and the benchmarks' writes add up")
		b.Logf("reconciled %d+ ledger entries in %v", BenchRows, time.Since(start).Round(time.Millisecond))
	}
}

// reportPercentiles reports the median and 99th percentile of took, in
// milliseconds, as name-p50-ms and name-p99-ms.
func reportPercentiles(b *testing.B, name string, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	at := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}
