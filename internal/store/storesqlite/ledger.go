package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// SetPlan implements store.Store.
func (s *Store) SetPlan(ctx context.Context, accountID, plan string) error {
	res, err := s.exec(ctx, `UPDATE accounts SET plan = ? WHERE id = ?`, plan, accountID)
	if err != nil {
		return fmt.Errorf("storesqlite: set plan: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// balanceQuery reads an account's plan and its period's counter (absent:
// nothing moved yet), one row each, whatever the size of the ledger.
const balanceQuery = `SELECT a.plan, coalesce(b.charged, 0), coalesce(b.refunded, 0), coalesce(b.granted, 0)
	FROM accounts a LEFT JOIN balances b ON b.account_id = a.id AND b.period_start = ?
	WHERE a.id = ?`

// balance reads an account's period inside db (a transaction or not).
func balance(ctx context.Context, db querier, accountID string, periodStart time.Time, planGrants map[string]int) (store.Balance, error) {
	var (
		plan string
		t    store.Totals
	)
	err := db.QueryRowContext(ctx, balanceQuery, periodStart.UnixMicro(), accountID).Scan(&plan, &t.Charged, &t.Refunded, &t.Granted)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Balance{}, store.ErrNotFound
	}
	if err != nil {
		return store.Balance{}, fmt.Errorf("storesqlite: read balance: %w", err)
	}
	return store.Balance{Granted: planGrants[plan] + t.Granted, Used: t.Charged - t.Refunded}, nil
}

// Balance implements store.Store.
func (s *Store) Balance(ctx context.Context, accountID string, periodStart time.Time, planGrants map[string]int) (store.Balance, error) {
	return balance(ctx, s.db, accountID, periodStart, planGrants)
}

// count adds to the period's counter in the transaction of the ledger
// write it mirrors, creating the row on the period's first movement.
func count(ctx context.Context, tx *sql.Tx, accountID string, periodStart int64, by store.Totals) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO balances (account_id, period_start, charged, refunded, granted) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (account_id, period_start) DO UPDATE SET
		   charged = charged + excluded.charged,
		   refunded = refunded + excluded.refunded,
		   granted = granted + excluded.granted`,
		accountID, periodStart, by.Charged, by.Refunded, by.Granted)
	if err != nil {
		return fmt.Errorf("storesqlite: count balance: %w", err)
	}
	return nil
}

func insertEntry(ctx context.Context, tx *sql.Tx, e store.LedgerEntry) (int64, error) {
	refundOf := sql.NullInt64{Int64: e.RefundOf, Valid: e.RefundOf != 0}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.AccountID, e.KeyID, e.PeriodStart.UnixMicro(), e.Kind, e.Amount, e.Operation, e.RequestID, e.State, refundOf, e.Time.UnixMicro(), e.Instance, e.Reason)
	if err != nil {
		return 0, fmt.Errorf("storesqlite: insert ledger entry: %w", err)
	}
	return res.LastInsertId()
}

// Reserve implements store.Store. The transaction takes the write lock
// first (_txlock=immediate), so balance checks and inserts of concurrent
// reservations are serialised.
func (s *Store) Reserve(ctx context.Context, charge store.LedgerEntry, planGrants map[string]int) (store.LedgerEntry, store.Balance, error) {
	var bal store.Balance
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if bal, err = balance(ctx, tx, charge.AccountID, charge.PeriodStart, planGrants); err != nil {
			return err
		}
		if bal.Remaining() < charge.Amount {
			return store.ErrInsufficientCredits
		}
		charge.Kind, charge.State = store.EntryCharge, store.ChargePending
		if charge.ID, err = insertEntry(ctx, tx, charge); err != nil {
			return err
		}
		if err := count(ctx, tx, charge.AccountID, charge.PeriodStart.UnixMicro(), store.Totals{Charged: charge.Amount}); err != nil {
			return err
		}
		bal.Used += charge.Amount
		return nil
	})
	return charge, bal, err
}

// Settle implements store.Store.
func (s *Store) Settle(ctx context.Context, chargeID int64, commit bool, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return settle(ctx, tx, chargeID, commit, store.RefundFailed, at)
	})
}

func settle(ctx context.Context, tx *sql.Tx, chargeID int64, commit bool, reason string, at time.Time) error {
	state := store.ChargeFinal
	if !commit {
		state = store.ChargeRefunded
	}
	var (
		accountID   string
		periodStart int64
		amount      int
	)
	err := tx.QueryRowContext(ctx,
		`UPDATE ledger SET state = ? WHERE id = ? AND kind = 'charge' AND state = 'pending'
		 RETURNING account_id, period_start, amount`, state, chargeID).Scan(&accountID, &periodStart, &amount)
	if errors.Is(err, sql.ErrNoRows) {
		return settled(ctx, tx, chargeID, commit)
	}
	if err != nil {
		return fmt.Errorf("storesqlite: settle charge: %w", err)
	}
	if commit {
		return nil
	}
	// The refund copies the charge and belongs to the charge's period,
	// whenever it happens.
	_, err = tx.ExecContext(ctx,
		`INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
		 SELECT account_id, key_id, period_start, 'refund', amount, operation, request_id, '', id, ?, '', ? FROM ledger WHERE id = ?`,
		at.UnixMicro(), reason, chargeID)
	if err != nil {
		return fmt.Errorf("storesqlite: insert refund: %w", err)
	}
	return count(ctx, tx, accountID, periodStart, store.Totals{Refunded: amount})
}

// settled is what settling a charge that is not pending gives: nil for
// a commit of a final charge (a commit whose caller did not hear that it
// landed), else ErrNotFound.
func settled(ctx context.Context, tx *sql.Tx, chargeID int64, commit bool) error {
	if !commit {
		return store.ErrNotFound
	}
	var final bool
	err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM ledger WHERE id = ? AND kind = 'charge' AND state = 'final')`, chargeID).Scan(&final)
	if err != nil {
		return fmt.Errorf("storesqlite: read charge: %w", err)
	}
	if final {
		return nil
	}
	return store.ErrNotFound
}

// RefundStale implements store.Store.
func (s *Store) RefundStale(ctx context.Context, cutoff, at time.Time) (int, error) {
	return s.refundPending(ctx, store.RefundStale, at,
		`SELECT id FROM ledger WHERE kind = 'charge' AND state = 'pending' AND time < ?`, cutoff.UnixMicro())
}

// RefundInterrupted implements store.Store.
func (s *Store) RefundInterrupted(ctx context.Context, instanceID string, at time.Time) (int, error) {
	return s.refundPending(ctx, store.RefundInterrupted, at,
		`SELECT id FROM ledger WHERE kind = 'charge' AND state = 'pending' AND instance_id = ?`, instanceID)
}

// refundPending refunds, for reason, the pending charges query finds, in
// one transaction.
func (s *Store) refundPending(ctx context.Context, reason string, at time.Time, query string, args ...any) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("storesqlite: find pending charges: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if err := settle(ctx, tx, id, false, reason, at); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// Grant implements store.Store.
func (s *Store) Grant(ctx context.Context, g store.LedgerEntry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE id = ?`, g.AccountID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return store.ErrNotFound
		}
		g.Kind, g.State = store.EntryGrant, ""
		if _, err := insertEntry(ctx, tx, g); err != nil {
			return err
		}
		return count(ctx, tx, g.AccountID, g.PeriodStart.UnixMicro(), store.Totals{Granted: g.Amount})
	})
}

// Queries that page through the ledger, each through an index
// (ledger_account_period, ledger_account_id): a page costs the same
// whatever the ledger holds.
const (
	ledgerEntriesQuery    = `SELECT ` + entryColumns + ` FROM ledger WHERE account_id = ? AND period_start = ? AND id > ? ORDER BY id LIMIT ?`
	allLedgerEntriesQuery = `SELECT ` + entryColumns + ` FROM ledger WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`
)

// LedgerEntries implements store.Store.
func (s *Store) LedgerEntries(ctx context.Context, accountID string, periodStart time.Time, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx, ledgerEntriesQuery, accountID, periodStart.UnixMicro(), after, limit)
}

// AllLedgerEntries implements store.Store.
func (s *Store) AllLedgerEntries(ctx context.Context, accountID string, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx, allLedgerEntriesQuery, accountID, after, limit)
}

// reconcileQuery sets each period's counter beside its ledger's sums; a
// period missing on one side has zeros there. One statement reads one
// snapshot, so writes running beside it cannot make a false mismatch.
const reconcileQuery = `SELECT account_id, period_start,
	       sum(c_charged), sum(c_refunded), sum(c_granted), sum(l_charged), sum(l_refunded), sum(l_granted)
	FROM (
	  SELECT account_id, period_start,
	         charged AS c_charged, refunded AS c_refunded, granted AS c_granted,
	         0 AS l_charged, 0 AS l_refunded, 0 AS l_granted
	  FROM balances
	  UNION ALL
	  SELECT account_id, period_start, 0, 0, 0,
	         coalesce(sum(CASE kind WHEN 'charge' THEN amount END), 0),
	         coalesce(sum(CASE kind WHEN 'refund' THEN amount END), 0),
	         coalesce(sum(CASE kind WHEN 'grant' THEN amount END), 0)
	  FROM ledger GROUP BY account_id, period_start
	)
	GROUP BY account_id, period_start
	HAVING sum(c_charged) <> sum(l_charged) OR sum(c_refunded) <> sum(l_refunded) OR sum(c_granted) <> sum(l_granted)
	ORDER BY account_id, period_start`

// Reconcile implements store.Store.
func (s *Store) Reconcile(ctx context.Context) ([]store.Mismatch, error) {
	rows, err := s.db.QueryContext(ctx, reconcileQuery)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: reconcile: %w", err)
	}
	defer rows.Close()
	var out []store.Mismatch
	for rows.Next() {
		var (
			m      store.Mismatch
			period int64
		)
		if err := rows.Scan(&m.AccountID, &period, &m.Counter.Charged, &m.Counter.Refunded, &m.Counter.Granted,
			&m.Ledger.Charged, &m.Ledger.Refunded, &m.Ledger.Granted); err != nil {
			return nil, fmt.Errorf("storesqlite: reconcile: %w", err)
		}
		m.PeriodStart = time.UnixMicro(period).UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storesqlite: reconcile: %w", err)
	}
	return out, nil
}

const entryColumns = `id, account_id, key_id, period_start, kind, amount, operation, request_id, state, coalesce(refund_of, 0), time, instance_id, reason`

func (s *Store) listEntries(ctx context.Context, query string, args ...any) ([]store.LedgerEntry, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list ledger: %w", err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var (
			e            store.LedgerEntry
			period, when int64
		)
		if err := rows.Scan(&e.ID, &e.AccountID, &e.KeyID, &period, &e.Kind, &e.Amount, &e.Operation, &e.RequestID, &e.State, &e.RefundOf, &when, &e.Instance, &e.Reason); err != nil {
			return nil, err
		}
		e.PeriodStart, e.Time = time.UnixMicro(period).UTC(), time.UnixMicro(when).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
