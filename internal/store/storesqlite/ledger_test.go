package storesqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storetest"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "enhance.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReconcileFindsTampering(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	storetest.ReconcileFindsTampering(t, s, func(t *testing.T, accountID string, periodStart time.Time, totals *store.Totals) {
		var err error
		if totals == nil {
			_, err = s.db.Exec(`DELETE FROM balances WHERE account_id = ? AND period_start = ?`, accountID, periodStart.UnixMicro())
		} else {
			_, err = s.db.Exec(`INSERT INTO balances (account_id, period_start, charged, refunded, granted) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (account_id, period_start) DO UPDATE SET charged = excluded.charged, refunded = excluded.refunded, granted = excluded.granted`,
				accountID, periodStart.UnixMicro(), totals.Charged, totals.Refunded, totals.Granted)
		}
		require.NoError(t, err)
	})
}

// The reads a request makes and the ledger's pages go through an index:
// their cost does not grow with the ledger.
func TestLedgerReadsUseAnIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	period := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for _, tt := range []struct {
		name  string
		query string
		args  []any
	}{
		{"balance", balanceQuery, []any{period, "a1"}},
		{"ledger entries", ledgerEntriesQuery, []any{"a1", period, 0, 100}},
		{"all ledger entries", allLedgerEntriesQuery, []any{"a1", 0, 100}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.db.Query(`EXPLAIN QUERY PLAN `+tt.query, tt.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			t.Log(plan)
			require.NotEmpty(t, plan)
			for _, step := range plan {
				require.True(t, strings.HasPrefix(step, "SEARCH "), "%q in %q: every table is searched by an index, none scanned", step, plan)
				require.NotContains(t, step, "TEMP B-TREE", "no sort: the index gives the order")
				if tt.name == "balance" {
					require.NotContains(t, step, "ledger", "a balance never reads the ledger")
				}
			}
		})
	}
}

// A database from before the counters gets them filled in from its
// ledger.
func TestMigrationFillsCountersFromTheLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enhance.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	require.NoError(t, err)
	names, err := fs.Glob(migrations, "migrations/*.sql")
	require.NoError(t, err)
	sort.Strings(names)
	require.Equal(t, "migrations/0008_balances.sql", names[7])
	for i, name := range names[:7] {
		body, err := migrations.ReadFile(name)
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err, name)
		_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", i+1))
		require.NoError(t, err)
	}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, stmt := range []string{
		`INSERT INTO accounts (id, email, password_hash, create_time) VALUES ('a1', 'a1@example.com', 'h', 0), ('a2', 'a2@example.com', 'h', 0)`,
		fmt.Sprintf(`INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time) VALUES
			('a1', 'k', %[1]d, 'charge', 5, 'enhance', 'r1', 'refunded', NULL, 0),
			('a1', 'k', %[1]d, 'refund', 5, 'enhance', 'r1', '', 1, 0),
			('a1', 'k', %[1]d, 'charge', 2, 'enhance', 'r2', 'final', NULL, 0),
			('a1', 'k', %[1]d, 'charge', 1, 'enhance', 'r3', 'pending', NULL, 0),
			('a1', '', %[2]d, 'grant', 9, 'goodwill', '', '', NULL, 0),
			('a2', 'k', %[2]d, 'charge', 4, 'enhance', 'r4', 'final', NULL, 0)`, nov.UnixMicro(), dec.UnixMicro()),
	} {
		_, err := db.Exec(stmt)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	mismatches, err := s.Reconcile(ctx)
	require.NoError(t, err)
	require.Empty(t, mismatches)
	grants := map[string]int{"free": 50}
	for _, tt := range []struct {
		account string
		period  time.Time
		want    store.Balance
	}{
		{"a1", nov, store.Balance{Granted: 50, Used: 3}},
		{"a1", dec, store.Balance{Granted: 59}},
		{"a2", nov, store.Balance{Granted: 50}},
		{"a2", dec, store.Balance{Granted: 50, Used: 4}},
	} {
		bal, err := s.Balance(ctx, tt.account, tt.period, grants)
		require.NoError(t, err)
		require.Equal(t, tt.want, bal, "%s %s", tt.account, tt.period)
	}
}
