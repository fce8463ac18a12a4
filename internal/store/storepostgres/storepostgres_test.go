package storepostgres

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/proxytest"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storepostgres/postgrestest"
	"github.com/smartimage/enhance/internal/store/storetest"
)

// freshSchema is an empty schema of the test's own; few connections per
// store, since the suite opens many stores at once.
func freshSchema(t testing.TB) string {
	t.Helper()
	return postgrestest.Schema(t, map[string]string{"pool_max_conns": "4"})
}

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	postgrestest.URL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func TestReconcileFindsTampering(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	storetest.ReconcileFindsTampering(t, s, func(t *testing.T, accountID string, periodStart time.Time, totals *store.Totals) {
		ctx := context.Background()
		var err error
		if totals == nil {
			_, err = s.pool.Exec(ctx, `DELETE FROM balances WHERE account_id = $1 AND period_start = $2`, accountID, periodStart)
		} else {
			_, err = s.pool.Exec(ctx, `INSERT INTO balances (account_id, period_start, charged, refunded, granted) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (account_id, period_start) DO UPDATE SET charged = excluded.charged, refunded = excluded.refunded, granted = excluded.granted`,
				accountID, periodStart, totals.Charged, totals.Refunded, totals.Granted)
		}
		require.NoError(t, err)
	})
}

// Instances starting together on an empty database all open it; one
// applies the migrations, under the lock, and the others find them done.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	url := freshSchema(t)
	ctx := context.Background()
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, url) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		t.Cleanup(func() { stores[i].Close() })
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	require.NoError(t, err)
	var count, version int
	require.NoError(t, stores[0].pool.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&count, &version))
	require.Equal(t, len(names), count, "each migration applied once")
	require.Equal(t, len(names), version)
}

// Two instances on one database never overspend between them, and see
// each other's liveness marks.
func TestTwoInstancesOneTruth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := freshSchema(t)
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	require.NoError(t, stores[0].CreateAccount(ctx, store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	grants := map[string]int{"free": 50}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  int
		errs []error
	)
	for i := range 200 {
		wg.Go(func() {
			_, _, err := stores[i%2].Reserve(ctx, store.LedgerEntry{AccountID: "a1", KeyID: "k1", PeriodStart: nov, Amount: 1, Time: now}, grants)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrInsufficientCredits):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, 50, won)

	release, err := stores[0].Hold(ctx, "one")
	require.NoError(t, err)
	alive, err := stores[1].Alive(ctx, "one")
	require.NoError(t, err)
	require.True(t, alive)
	_, err = stores[1].Hold(ctx, "one")
	require.Error(t, err, "one holder across instances")
	require.NoError(t, release())
	alive, err = stores[1].Alive(ctx, "one")
	require.NoError(t, err)
	require.False(t, alive)

	// A process that dies without releasing: its session ends.
	_, err = stores[0].Hold(ctx, "killed")
	require.NoError(t, err)
	_, err = stores[1].pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = (hashtextextended($1, 0) & 4294967295)::oid`, stores[1].lockKey("instance", "killed"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		alive, err := stores[1].Alive(ctx, "killed")
		return err == nil && !alive
	}, 10*time.Second, 10*time.Millisecond)
}

// lower() folds only ASCII, as SQLite's NOCASE does, whatever the
// database's locale.
func TestEmailsFoldASCIIOnly(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, email := range []string{"\u00c9lodie@example.com", "\u00e9lodie@example.com"} {
		id := string(rune('a' + i))
		require.NoError(t, s.CreateAccount(ctx, store.Account{ID: id, Email: email, PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k" + id, AccountID: id, SecretHash: []byte{1}, CreateTime: now}))
	}
	a, err := s.AccountByEmail(ctx, "\u00c9LODIE@EXAMPLE.COM")
	require.NoError(t, err)
	require.Equal(t, "a", a.ID)
}

func TestOpenUnreachableFailsFast(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, url string
	}{
		{"refused", "postgres://enhance@127.0.0.1:1/enhance?sslmode=disable"},
		// TEST-NET-1 answers nothing: the URL's own timeout applies.
		{"silent", "postgres://enhance@192.0.2.1:5432/enhance?sslmode=disable&connect_timeout=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A deadline far beyond the connect timeout: an outage is
			// told only while the caller still waits (unreachable), so
			// ErrUnavailable says the connect timeout ended the wait.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := Open(ctx, tt.url)
			require.ErrorIs(t, err, store.ErrUnavailable)
			require.NoError(t, ctx.Err(), "the connect timeout, not the caller's deadline, ended the wait")
		})
	}
}

// Once the server cannot be reached, calls fail at once with
// store.ErrUnavailable: the connection goes through a proxy that the
// test shuts.
func TestServerGoneIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	direct := freshSchema(t)
	u, err := url.Parse(direct)
	require.NoError(t, err)
	p := proxytest.New(t, u.Host)
	u.Host = p.Addr()
	s, err := Open(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.CreateAccount(ctx, store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))

	p.Cut()
	// A deadline far beyond the connect timeout bounds the wait; each
	// call's ErrUnavailable says it failed on its own, not on it.
	cut, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = s.AccountCount(cut)
	require.ErrorIs(t, err, store.ErrUnavailable)
	_, _, err = s.Reserve(cut, store.LedgerEntry{AccountID: "a1", KeyID: "k1", PeriodStart: now, Amount: 1, Time: now}, map[string]int{"free": 5})
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, s.Ping(cut), store.ErrUnavailable)
	require.NoError(t, cut.Err())

	_, err = s.Account(ctx, "nobody")
	require.NotErrorIs(t, err, store.ErrNotFound, "an outage is not an absence")
}

func TestUnreachableErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"net error", ctx, refused, true},
		{"eof", ctx, io.ErrUnexpectedEOF, true},
		{"caller gave up", cancelled, refused, false},
		{"sql error", ctx, errors.New("syntax error"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, errors.Is(fail(tt.ctx, "x", tt.err), store.ErrUnavailable))
			require.True(t, strings.HasPrefix(fail(tt.ctx, "x", tt.err).Error(), "storepostgres: x: "))
		})
	}
}

// The reads a request makes, and the ledger's pages, are served by an
// index in their order: among plain index scans, each plan seeks its
// account and needs no sort, and a balance never reads the ledger.
func TestReadsUseAnIndex(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	require.NoError(t, s.CreateAccount(ctx, store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	// A year of entries, a hundred a month, among 49 other accounts' as
	// many; and the statistics of them.
	for _, stmt := range []string{
		`INSERT INTO accounts (id, email, password_hash, create_time) SELECT 'o' || i, 'o' || i || '@example.com', 'h', now()
		 FROM generate_series(1, 49) AS i`,
		`INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, time)
		 SELECT CASE WHEN i % 50 = 0 THEN 'a1' ELSE 'o' || i % 50 END, 'k', timestamptz '2026-01-01 00:00:00+00' + (i / 5000) * interval '1 month',
		        'charge', 1, 'enhance', '', 'final', now()
		 FROM generate_series(0, 59999) AS i`,
		`ANALYZE`,
	} {
		_, err := s.pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	period := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, query, cond string
		args              []any
	}{
		{"balance", balanceSQL, "(account_id = 'a1'", []any{"a1", period}},
		{"ledger entries", ledgerEntriesSQL, "(account_id = 'a1'", []any{"a1", period, 0, 100}},
		{"all ledger entries", allLedgerEntriesSQL, "(account_id = 'a1'", []any{"a1", 0, 100}},
		{"account by email", accountByEmailSQL, "lower(email) = ", []any{"a@example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := s.pool.Begin(ctx)
			require.NoError(t, err)
			defer tx.Rollback(ctx)
			_, err = tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`)
			require.NoError(t, err)
			rows, err := tx.Query(ctx, `EXPLAIN `+tt.query, tt.args...)
			require.NoError(t, err)
			plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			text := strings.Join(plan, "\n")
			t.Log(text)
			require.Contains(t, text, "Index Cond: ("+tt.cond)
			require.NotContains(t, text, "Seq Scan")
			require.NotContains(t, text, "Sort")
			if tt.name == "balance" {
				require.NotContains(t, text, "ledger", "a balance never reads the ledger")
			}
		})
	}
}

// A rollback has a deadline of its own: a transaction that failed on a
// connection that then went silent returns instead of waiting for an
// answer that never comes.
func TestRollbackHasADeadline(t *testing.T) {
	t.Parallel()
	direct := freshSchema(t)
	u, err := url.Parse(direct)
	require.NoError(t, err)
	p := proxytest.New(t, u.Host)
	u.Host = p.Addr()
	s, err := Open(context.Background(), u.String())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	t.Cleanup(p.Restore)

	failed := errors.New("the transaction's own failure")
	done := make(chan error, 1)
	go func() {
		done <- s.inTx(context.Background(), "stall", func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `SELECT 1`); err != nil {
				return err
			}
			p.Stall()
			return failed
		})
	}()
	// Far beyond the rollback's deadline; without one, the wait is
	// forever.
	select {
	case err := <-done:
		require.ErrorIs(t, err, failed)
	case <-time.After(time.Minute):
		t.Fatal("the rollback waits for a silent server without end")
	}
}

// Ledger commits are asynchronous only where nobody asked for more: not
// when the URL sets synchronous_commit, nor when the server has
// synchronous standbys.
func TestAsyncLedger(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		urlSets  bool
		standbys string
		want     bool
	}{
		{"defaults", false, "", true},
		{"url sets synchronous_commit", true, "", false},
		{"synchronous standby", false, "FIRST 1 (replica1)", false},
		{"any standby", false, "*", false},
		{"both", true, "replica1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, asyncLedger(tt.urlSets, tt.standbys))
		})
	}
	// The test server has no synchronous standby: Open reads so.
	require.True(t, openTest(t).asyncLedger)
}

// A role that may only read and write the tables (no CREATE on the
// schema) opens a database whose schema is up to date: the version is
// read without DDL, and migrations run only when they are behind.
func TestOpenCurrentSchemaWithoutDDLRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := freshSchema(t)
	s, err := Open(ctx, owner) // migrates, as the owner
	require.NoError(t, err)
	s.Close()

	u, err := url.Parse(owner)
	require.NoError(t, err)
	schema := u.Query().Get("search_path")
	role := schema + "_app"
	admin, err := pgx.Connect(ctx, postgrestest.URL(t))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	for _, stmt := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
	} {
		_, err := admin.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	t.Cleanup(func() {
		for _, stmt := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			_, err := admin.Exec(context.Background(), stmt)
			require.NoError(t, err, stmt)
		}
	})

	u.User = url.User(role)
	app, err := Open(ctx, u.String())
	require.NoError(t, err, "an up-to-date schema needs no DDL rights")
	t.Cleanup(func() { app.Close() })
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	require.NoError(t, app.CreateAccount(ctx, store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
}
