// Package storepostgres implements store.Store on PostgreSQL, for several
// instances sharing one database.
//
// Reservations and settlements commit asynchronously (ledger.go) unless
// the URL sets synchronous_commit, or the server has synchronous
// standbys (synchronous_standby_names is set): a synchronous replica the
// operator configured is never overridden.
package storepostgres

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smartimage/enhance/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serialises migrations of
// every instance starting at once ("enhance" in ASCII).
const migrationLock int64 = 0x656e68616e6365

// connectTimeout bounds a connection attempt when the URL names none, so
// that a request fails fast (503) while the database is down.
const connectTimeout = 3 * time.Second

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// asyncLedger: reservations and settlements commit without waiting
	// for the WAL flush (ledger.go), unless the URL sets
	// synchronous_commit itself or the server has synchronous standbys
	// (see the function asyncLedger).
	asyncLedger bool
	// lockSpace prefixes advisory lock names (the schema), so that stores
	// in different schemas of one database do not share locks.
	lockSpace string
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...), checks that it
// answers and brings its schema up to date. Unknown URL parameters are
// session settings (search_path=... picks a schema).
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error masks the password; never print url itself.
		return nil, fmt.Errorf("storepostgres: parse database URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fail(ctx, "open", err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	var standbys string
	if err := pool.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names')`).Scan(&standbys); err != nil {
		pool.Close()
		return nil, fail(ctx, "read synchronous_standby_names", err)
	}
	_, synchronous := cfg.ConnConfig.RuntimeParams["synchronous_commit"]
	s.asyncLedger = asyncLedger(synchronous, standbys)
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.lockSpace); err != nil {
		pool.Close()
		return nil, fail(ctx, "read schema", err)
	}
	return s, nil
}

// schemaVersion is the number of migrations applied: 0 before the
// first, when there is no schema_migrations table.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var version int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version)
	return version, err
}

// asyncLedger reports whether reservations and settlements may commit
// without waiting for the WAL flush (ledger.go): not when the URL sets
// synchronous_commit (urlSets), whose value then stands, nor when the
// server names synchronous standbys (standbys, its
// synchronous_standby_names): an operator who configured a synchronous
// replica asked for every commit to reach it, which
// synchronous_commit = off would silently waive.
func asyncLedger(urlSets bool, standbys string) bool {
	return !urlSets && strings.TrimSpace(standbys) == ""
}

// migrate applies every embedded migration newer than the database's, in
// one transaction that first takes the migration lock: of instances
// starting together one applies them, the others wait and find them
// applied. A schema already up to date is only read, with no DDL and no
// lock, so that a role with nothing but the rights to read and write the
// tables can start.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	version, err := s.schemaVersion(ctx)
	if err != nil {
		return fail(ctx, "read schema version", err)
	}
	if version >= len(names) {
		return nil
	}
	return s.inTx(ctx, "migrate", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			apply_time timestamptz NOT NULL DEFAULT now())`)
		if err != nil {
			return err
		}
		var version int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
			return err
		}
		for i := version; i < len(names); i++ {
			body, err := migrations.ReadFile(names[i])
			if err != nil {
				return err
			}
			// No arguments: the simple protocol, which runs many statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", names[i], err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
				i+1, strings.TrimPrefix(names[i], "migrations/")); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction, committed when fn succeeds and rolled
// back otherwise; a transaction the server aborted to break a deadlock
// or a serialization conflict runs again (retry), so fn may run more than
// once and must start afresh each time. Errors of fn that are not the
// store's own are wrapped as fail does, naming op.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return fail(ctx, op, retry(ctx, func() error { return s.tx(ctx, fn) }))
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = tx.Rollback(rctx) // after a commit, a no-op
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// rollbackTimeout bounds a rollback.
const rollbackTimeout = 5 * time.Second

// cleanupContext is the context of a rollback: it runs even when the
// caller's context is done, but not for ever on a server gone silent
// (pgx closes a connection whose rollback failed).
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}

// txAttempts bounds how often retry runs a transaction.
const txAttempts = 4

// retry runs run, a whole transaction, again while the server aborts it
// to break a deadlock (the lock orders below leave rare ones, such as a
// charge made while its account is being deleted) or a serialization
// conflict: nothing of an aborted transaction was written, and a second
// run usually finds the other transaction done.
func retry(ctx context.Context, run func() error) error {
	var err error
	for range txAttempts {
		err = run()
		if !isCode(err, deadlockDetected) && !isCode(err, serializationFailure) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// fail wraps err from op: the store's sentinels and *store.ThrottledError
// pass as they are, a database that cannot be reached also matches
// store.ErrUnavailable (so that callers answer 503), and a missing row is
// store.ErrNotFound.
func fail(ctx context.Context, op string, err error) error {
	var te *store.ThrottledError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrLimit),
		errors.Is(err, store.ErrInsufficientCredits), errors.Is(err, store.ErrUnavailable), errors.As(err, &te):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case unreachable(ctx, err):
		return fmt.Errorf("storepostgres: %s: %w", op, errors.Join(store.ErrUnavailable, err))
	}
	return fmt.Errorf("storepostgres: %s: %w", op, err)
}

// unreachable reports whether err says the server cannot be reached now,
// rather than that it refused the request.
func unreachable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false // the caller gave up; the server may be fine
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// A server shutting down, starting up, or out of connections. A
		// refused password or a missing database is a configuration
		// error, not an outage.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" ||
			pe.Code == "53300"
	}
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Error codes of PostgreSQL this store tells apart.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	lockNotAvailable     = "55P03"
)

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// ts is t as stored: microseconds, cut (not rounded, as the server
// would) like SQLite's UnixMicro.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: ts(t), Valid: !t.IsZero()}
}

// fromNull reads a nullable time, NULL as the zero time.
func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return utc(t.Time)
}

// utc is t read back as the store hands times out: UTC, no location of
// the server's.
func utc(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

type scanner interface{ Scan(dest ...any) error }

// CreateAccount implements store.Store.
func (s *Store) CreateAccount(ctx context.Context, a store.Account, k store.APIKey) error {
	return s.inTx(ctx, "create account", func(tx pgx.Tx) error {
		if err := emailKeyFree(ctx, tx, a.EmailKey); err != nil {
			return fmt.Errorf("storepostgres: account %q: %w", a.Email, err)
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO accounts (id, email, password_hash, create_time, plan, email_key) VALUES ($1, $2, $3, $4, $5, $6)`,
			a.ID, a.Email, a.PasswordHash, ts(a.CreateTime), cmp.Or(a.Plan, "free"), nullKey(a.EmailKey))
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("storepostgres: account %q: %w", a.Email, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		return insertKey(ctx, tx, k)
	})
}

// nullKey is an email key as stored: bytes, NULL when empty.
func nullKey(key string) []byte {
	if key == "" {
		return nil
	}
	return []byte(key)
}

func insertKey(ctx context.Context, tx pgx.Tx, k store.APIKey) error {
	_, err := tx.Exec(ctx,
		`INSERT INTO api_keys (id, account_id, display_name, secret_hash, scopes, create_time, expire_time, revoke_time)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.ID, k.AccountID, k.DisplayName, k.SecretHash, strings.Join(k.Scopes, " "),
		ts(k.CreateTime), nullTime(k.ExpireTime), nullTime(k.RevokeTime))
	if err != nil {
		return fmt.Errorf("insert key: %w", err)
	}
	return nil
}

// AccountCount implements store.Store.
func (s *Store) AccountCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, fail(ctx, "count accounts", err)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return fail(ctx, "ping", s.pool.Ping(ctx)) }

// Close implements store.Store. Liveness marks (Hold) stay held until
// released: they are on connections of their own.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const accountColumns = `id, email, password_hash, create_time, plan, coalesce(email_key, '')`

// emailKeyFree is ErrConflict when an account holds key, or holds it as
// a legacy collision (key, NUL, its id): the key stays taken.
func emailKeyFree(ctx context.Context, tx pgx.Tx, key string) error {
	if key == "" {
		return nil
	}
	var n int
	err := tx.QueryRow(ctx,
		`SELECT count(*) FROM accounts WHERE email_key = $1 OR (email_key > $2 AND email_key < $3)`,
		[]byte(key), []byte(key+"\x00"), []byte(key+"\x01")).Scan(&n)
	if err != nil {
		return fmt.Errorf("check email key: %w", err)
	}
	if n > 0 {
		return store.ErrConflict
	}
	return nil
}

func scanAccount(ctx context.Context, row scanner) (store.Account, error) {
	var (
		a   store.Account
		key []byte
	)
	err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.CreateTime, &a.Plan, &key)
	if err != nil {
		return store.Account{}, fail(ctx, "read account", err)
	}
	a.CreateTime, a.EmailKey = utc(a.CreateTime), string(key)
	return a, nil
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	return scanAccount(ctx, s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

// accountByEmailSQL finds an email through its unique index. lower() of
// a "C" text folds ASCII only, as SQLite's NOCASE does.
const accountByEmailSQL = `SELECT ` + accountColumns + ` FROM accounts WHERE lower(email) = lower($1::text COLLATE "C")`

// AccountByEmail implements store.Store.
func (s *Store) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	return scanAccount(ctx, s.pool.QueryRow(ctx, accountByEmailSQL, email))
}

// AccountByEmailKey implements store.Store.
func (s *Store) AccountByEmailKey(ctx context.Context, key string) (store.Account, error) {
	return scanAccount(ctx, s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, []byte(key)))
}

// AccountsWithoutEmailKey implements store.Store.
func (s *Store) AccountsWithoutEmailKey(ctx context.Context) ([]store.Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key IS NULL ORDER BY create_time, id`)
	if err != nil {
		return nil, fail(ctx, "list accounts", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, fail(ctx, "list accounts", rows.Err())
}

// SetEmailKey implements store.Store.
func (s *Store) SetEmailKey(ctx context.Context, id, key string) error {
	return s.inTx(ctx, "set email key", func(tx pgx.Tx) error {
		if base, _, legacy := strings.Cut(key, "\x00"); !legacy {
			if err := emailKeyFree(ctx, tx, base); err != nil {
				return fmt.Errorf("storepostgres: email key of %s: %w", id, err)
			}
		}
		tag, err := tx.Exec(ctx, `UPDATE accounts SET email_key = $1 WHERE id = $2`, []byte(key), id)
		if isCode(err, uniqueViolation) {
			return fmt.Errorf("storepostgres: email key of %s: %w", id, store.ErrConflict)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// DeleteAccount implements store.Store. Everything of the account goes
// with it (ON DELETE CASCADE). Writers lock a row of the account's (a
// pending charge, then its period's balance; a key; a session) before
// the foreign key check of their inserts takes KEY SHARE on the account;
// a bare DELETE would lock the account first and then wait in its
// cascade for their rows: a deadlock. So the rows writers lock are locked
// first, in the writers' order (lockAccountRows), and the account last.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	return s.inTx(ctx, "delete account", func(tx pgx.Tx) error {
		if err := lockAccountRows(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// Statements of lockAccountRows, on the account $1.
const (
	lockPendingSQL = `SELECT 1 FROM ledger WHERE account_id = $1 AND kind = 'charge' AND state = 'pending' ORDER BY id FOR UPDATE`
	lockBalanceSQL = `SELECT 1 FROM balances WHERE account_id = $1 ORDER BY period_start FOR UPDATE`
)

// lockAttempts bounds lockAccountRows's rounds.
const lockAttempts = 20

// lockAccountRows locks the account's rows that writers lock: its pending
// charges, then its balances (the ledger's order), then its keys and
// sessions. A charge reserved between the first two steps is not locked,
// and its settlement, holding it, may wait for its balance: so with the
// balances locked, the pending charges are locked again without waiting;
// one that is held sends the balances back (to a savepoint) to wait for
// it, and the round is run again.
func lockAccountRows(ctx context.Context, tx pgx.Tx, id string) error {
	for round := 1; ; round++ {
		if _, err := tx.Exec(ctx, lockPendingSQL, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT balances`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, lockBalanceSQL, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, strings.Replace(lockPendingSQL, "FOR UPDATE", "FOR UPDATE NOWAIT", 1), id)
		if isCode(err, lockNotAvailable) && round < lockAttempts {
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT balances`); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	for _, lock := range []string{
		`SELECT 1 FROM api_keys WHERE account_id = $1 ORDER BY id FOR UPDATE`,
		`SELECT 1 FROM sessions WHERE account_id = $1 ORDER BY id FOR UPDATE`,
	} {
		if _, err := tx.Exec(ctx, lock, id); err != nil {
			return err
		}
	}
	return nil
}

// lockKey is the name of an advisory lock of this store's schema, hashed
// by the server into the lock's 64-bit key.
func (s *Store) lockKey(kind, name string) string {
	return s.lockSpace + ":" + kind + ":" + name
}
