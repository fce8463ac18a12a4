package storepostgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartimage/enhance/internal/store"
)

// Every ledger write changes the period's row of balances in the same
// transaction, so that the balance is one row (read in O(1)) and always
// the ledger's sum. Lock order, which keeps writers from deadlocking: a
// charge's ledger row before balance rows, several balance rows in key
// order; a reservation locks one balance row and nothing else.

// SetPlan implements store.Store.
func (s *Store) SetPlan(ctx context.Context, accountID, plan string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE accounts SET plan = $1 WHERE id = $2`, plan, accountID)
	if err != nil {
		return fail(ctx, "set plan", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// balanceOf is the standing of a period's counters under plan.
func balanceOf(plan string, charged, refunded, granted int, planGrants map[string]int) store.Balance {
	return store.Balance{Granted: planGrants[plan] + granted, Used: charged - refunded}
}

// Balance implements store.Store. One row is read in one statement, so it
// needs no lock to be consistent.
func (s *Store) Balance(ctx context.Context, accountID string, periodStart time.Time, planGrants map[string]int) (store.Balance, error) {
	var (
		plan                       string
		charged, refunded, granted int
	)
	err := s.pool.QueryRow(ctx,
		`SELECT a.plan, coalesce(b.charged, 0), coalesce(b.refunded, 0), coalesce(b.granted, 0)
		 FROM accounts a LEFT JOIN balances b ON b.account_id = a.id AND b.period_start = $2
		 WHERE a.id = $1`, accountID, ts(periodStart)).Scan(&plan, &charged, &refunded, &granted)
	if err != nil {
		return store.Balance{}, fail(ctx, "read balance", err)
	}
	return balanceOf(plan, charged, refunded, granted, planGrants), nil
}

// lockBalance reads the period's balance with its row locked until tx
// ends, creating the row if the period has none yet.
func lockBalance(ctx context.Context, tx pgx.Tx, accountID string, periodStart time.Time, planGrants map[string]int) (store.Balance, error) {
	var (
		plan                       string
		charged, refunded, granted int
	)
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO balances (account_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING`, accountID, ts(periodStart))
	b.Queue(`SELECT a.plan, b.charged, b.refunded, b.granted FROM balances b JOIN accounts a ON a.id = b.account_id
		 WHERE b.account_id = $1 AND b.period_start = $2 FOR UPDATE OF b`, accountID, ts(periodStart)).
		QueryRow(func(row pgx.Row) error { return row.Scan(&plan, &charged, &refunded, &granted) })
	err := tx.SendBatch(ctx, b).Close()
	if isCode(err, foreignKeyViolation) {
		return store.Balance{}, store.ErrNotFound
	}
	if err != nil {
		return store.Balance{}, fmt.Errorf("lock balance: %w", err)
	}
	return balanceOf(plan, charged, refunded, granted, planGrants), nil
}

const insertEntrySQL = `INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`

func entryArgs(e store.LedgerEntry) []any {
	var refundOf *int64
	if e.RefundOf != 0 {
		refundOf = &e.RefundOf
	}
	return []any{e.AccountID, e.KeyID, ts(e.PeriodStart), e.Kind, e.Amount, e.Operation, e.RequestID, e.State, refundOf,
		ts(e.Time), e.Instance, e.Reason}
}

// Reserve implements store.Store. The balance row's lock serialises the
// reservations of one account and period, in every process.
func (s *Store) Reserve(ctx context.Context, charge store.LedgerEntry, planGrants map[string]int) (store.LedgerEntry, store.Balance, error) {
	var bal store.Balance
	err := s.inTx(ctx, "reserve", func(tx pgx.Tx) error {
		var err error
		if bal, err = lockBalance(ctx, tx, charge.AccountID, charge.PeriodStart, planGrants); err != nil {
			return err
		}
		if bal.Remaining() < charge.Amount {
			return store.ErrInsufficientCredits
		}
		entry := charge
		entry.Kind, entry.State = store.EntryCharge, store.ChargePending
		b := &pgx.Batch{}
		b.Queue(insertEntrySQL, entryArgs(entry)...).QueryRow(func(row pgx.Row) error { return row.Scan(&entry.ID) })
		b.Queue(`UPDATE balances SET charged = charged + $3 WHERE account_id = $1 AND period_start = $2`,
			entry.AccountID, ts(entry.PeriodStart), entry.Amount)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("insert charge: %w", err)
		}
		charge = entry
		bal.Used += charge.Amount
		return nil
	})
	return charge, bal, err
}

// Settle implements store.Store.
func (s *Store) Settle(ctx context.Context, chargeID int64, commit bool, at time.Time) error {
	return s.inTx(ctx, "settle charge", func(tx pgx.Tx) error {
		state := store.ChargeFinal
		if !commit {
			state = store.ChargeRefunded
		}
		var (
			accountID   string
			periodStart time.Time
			amount      int
		)
		err := tx.QueryRow(ctx,
			`UPDATE ledger SET state = $1 WHERE id = $2 AND kind = 'charge' AND state = 'pending'
			 RETURNING account_id, period_start, amount`, state, chargeID).Scan(&accountID, &periodStart, &amount)
		if err != nil {
			return err // no row: not pending (store.ErrNotFound)
		}
		if commit {
			return nil
		}
		b := &pgx.Batch{}
		b.Queue(insertRefundsSQL, []int64{chargeID}, ts(at), store.RefundFailed)
		b.Queue(`UPDATE balances SET refunded = refunded + $3 WHERE account_id = $1 AND period_start = $2`,
			accountID, periodStart, amount)
		return tx.SendBatch(ctx, b).Close()
	})
}

// insertRefundsSQL refunds the charges $1 (refunded already) at $2 for
// reason $3. A refund copies its charge and belongs to the charge's
// period, whenever it happens.
const insertRefundsSQL = `INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
	SELECT account_id, key_id, period_start, 'refund', amount, operation, request_id, '', id, $2, '', $3
	FROM ledger WHERE id = ANY($1) ORDER BY id`

// RefundStale implements store.Store.
func (s *Store) RefundStale(ctx context.Context, cutoff, at time.Time) (int, error) {
	return s.refundPending(ctx, store.RefundStale, at, `time < $1`, ts(cutoff))
}

// RefundInterrupted implements store.Store.
func (s *Store) RefundInterrupted(ctx context.Context, instanceID string, at time.Time) (int, error) {
	return s.refundPending(ctx, store.RefundInterrupted, at, `instance_id = $1`, instanceID)
}

// refundPending refunds, for reason, the pending charges that match cond
// (on $1, arg), in one transaction. A charge another transaction holds
// (being settled) is skipped: it is settled there.
func (s *Store) refundPending(ctx context.Context, reason string, at time.Time, cond string, arg any) (int, error) {
	n := 0
	err := s.inTx(ctx, "refund pending charges", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`UPDATE ledger SET state = 'refunded' WHERE id IN (
			   SELECT id FROM ledger WHERE kind = 'charge' AND state = 'pending' AND `+cond+` FOR UPDATE SKIP LOCKED)
			 RETURNING id, account_id, period_start, amount`, arg)
		if err != nil {
			return err
		}
		type period struct {
			account string
			start   time.Time
		}
		var (
			ids      []int64
			refunded = map[period]int{}
		)
		for rows.Next() {
			var (
				id     int64
				p      period
				amount int
			)
			if err := rows.Scan(&id, &p.account, &p.start, &amount); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			refunded[p] += amount
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		b := &pgx.Batch{}
		b.Queue(insertRefundsSQL, ids, ts(at), reason)
		periods := make([]period, 0, len(refunded))
		for p := range refunded {
			periods = append(periods, p)
		}
		slices.SortFunc(periods, func(a, b period) int {
			if a.account != b.account {
				return strings.Compare(a.account, b.account)
			}
			return a.start.Compare(b.start)
		})
		for _, p := range periods {
			b.Queue(`UPDATE balances SET refunded = refunded + $3 WHERE account_id = $1 AND period_start = $2`,
				p.account, p.start, refunded[p])
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	return n, err
}

// Grant implements store.Store.
func (s *Store) Grant(ctx context.Context, g store.LedgerEntry) error {
	return s.inTx(ctx, "grant", func(tx pgx.Tx) error {
		g.Kind, g.State = store.EntryGrant, ""
		b := &pgx.Batch{}
		b.Queue(insertEntrySQL, entryArgs(g)...)
		b.Queue(`INSERT INTO balances (account_id, period_start, granted) VALUES ($1, $2, $3)
			 ON CONFLICT (account_id, period_start) DO UPDATE SET granted = balances.granted + excluded.granted`,
			g.AccountID, ts(g.PeriodStart), g.Amount)
		err := tx.SendBatch(ctx, b).Close()
		if isCode(err, foreignKeyViolation) {
			return store.ErrNotFound
		}
		return err
	})
}

// LedgerEntries implements store.Store.
func (s *Store) LedgerEntries(ctx context.Context, accountID string, periodStart time.Time, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx,
		`SELECT `+entryColumns+` FROM ledger WHERE account_id = $1 AND period_start = $2 AND id > $3 ORDER BY id LIMIT $4`,
		accountID, ts(periodStart), after, limit)
}

// AllLedgerEntries implements store.Store.
func (s *Store) AllLedgerEntries(ctx context.Context, accountID string, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx,
		`SELECT `+entryColumns+` FROM ledger WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`, accountID, after, limit)
}

const entryColumns = `id, account_id, key_id, period_start, kind, amount, operation, request_id, state, coalesce(refund_of, 0), time, instance_id, reason`

func (s *Store) listEntries(ctx context.Context, query string, args ...any) ([]store.LedgerEntry, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fail(ctx, "list ledger", err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var e store.LedgerEntry
		if err := rows.Scan(&e.ID, &e.AccountID, &e.KeyID, &e.PeriodStart, &e.Kind, &e.Amount, &e.Operation, &e.RequestID,
			&e.State, &e.RefundOf, &e.Time, &e.Instance, &e.Reason); err != nil {
			return nil, fail(ctx, "read ledger entry", err)
		}
		e.PeriodStart, e.Time = utc(e.PeriodStart), utc(e.Time)
		out = append(out, e)
	}
	return out, fail(ctx, "list ledger", rows.Err())
}

// reconcileQuery lists the account periods whose counter differs from the
// ledger's sums, a missing side counting as zeros. One statement: one
// snapshot of both tables.
const reconcileQuery = `SELECT account_id, period_start,
	       sum(c_charged)::bigint, sum(c_refunded)::bigint, sum(c_granted)::bigint,
	       sum(l_charged)::bigint, sum(l_refunded)::bigint, sum(l_granted)::bigint
	FROM (
	  SELECT account_id, period_start,
	         charged AS c_charged, refunded AS c_refunded, granted AS c_granted,
	         0 AS l_charged, 0 AS l_refunded, 0 AS l_granted
	  FROM balances
	  UNION ALL
	  SELECT account_id, period_start, 0, 0, 0,
	         coalesce(sum(amount) FILTER (WHERE kind = 'charge'), 0),
	         coalesce(sum(amount) FILTER (WHERE kind = 'refund'), 0),
	         coalesce(sum(amount) FILTER (WHERE kind = 'grant'), 0)
	  FROM ledger GROUP BY account_id, period_start
	) t
	GROUP BY account_id, period_start
	HAVING sum(c_charged) <> sum(l_charged) OR sum(c_refunded) <> sum(l_refunded) OR sum(c_granted) <> sum(l_granted)
	ORDER BY account_id, period_start`

// Reconcile implements store.Store.
func (s *Store) Reconcile(ctx context.Context) ([]store.Mismatch, error) {
	rows, err := s.pool.Query(ctx, reconcileQuery)
	if err != nil {
		return nil, fail(ctx, "reconcile", err)
	}
	defer rows.Close()
	var out []store.Mismatch
	for rows.Next() {
		var m store.Mismatch
		if err := rows.Scan(&m.AccountID, &m.PeriodStart, &m.Counter.Charged, &m.Counter.Refunded, &m.Counter.Granted,
			&m.Ledger.Charged, &m.Ledger.Refunded, &m.Ledger.Granted); err != nil {
			return nil, fail(ctx, "reconcile", err)
		}
		m.PeriodStart = utc(m.PeriodStart)
		out = append(out, m)
	}
	return out, fail(ctx, "reconcile", rows.Err())
}
