package storepostgres

import (
	"context"
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
// order; a reservation locks one balance row and nothing else. Every
// ledger write's foreign key check takes KEY SHARE on the account last,
// so an account's deletion locks its pending charges and balances first
// (DeleteAccount). A deadlock left (retry) runs the transaction again.
//
// A request's reservation and settlement commit asynchronously (unless
// the URL sets synchronous_commit, or the server has synchronous standbys,
// whose guarantee the operator chose: asyncLedger): waiting for the WAL flush, with the
// balance row locked, would bound an account to one request per disk
// flush (3 ms and 200 requests/s on a plain cloud disk). It is SQLite's
// synchronous=NORMAL trade: a crash of the server may lose the last
// fraction of a second of them, never half of one, and each loss is in
// the customer's favour: a lost charge is not billed, a lost settlement
// leaves its charge pending, to be refunded as stale or interrupted.

// asyncCommit is the statement that makes tx's commit asynchronous.
const asyncCommit = `SET LOCAL synchronous_commit = off`

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

// balanceSQL reads an account's plan and its period's counter (absent:
// nothing moved yet), one row each, whatever the size of the ledger.
const balanceSQL = `SELECT a.plan, coalesce(b.charged, 0), coalesce(b.refunded, 0), coalesce(b.granted, 0)
	FROM accounts a LEFT JOIN balances b ON b.account_id = a.id AND b.period_start = $2
	WHERE a.id = $1`

// Balance implements store.Store. One row is read in one statement, so it
// needs no lock to be consistent.
func (s *Store) Balance(ctx context.Context, accountID string, periodStart time.Time, planGrants map[string]int) (store.Balance, error) {
	var (
		plan                       string
		charged, refunded, granted int
	)
	err := s.pool.QueryRow(ctx, balanceSQL, accountID, ts(periodStart)).Scan(&plan, &charged, &refunded, &granted)
	if err != nil {
		return store.Balance{}, fail(ctx, "read balance", err)
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

// pipeline runs queue's statements as one transaction in one round trip
// (BEGIN, the statements, COMMIT sent together): the request path's
// ledger writes, whose latency the balance row's lock spans. What the
// statements decide, they decide in SQL: a callback's error cannot stop
// the COMMIT, which was sent with them.
func (s *Store) pipeline(ctx context.Context, op string, queue func(b *pgx.Batch)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fail(ctx, op, err)
	}
	defer conn.Release()
	// A batch the server aborted (deadlock) wrote nothing: it is queued
	// and sent again.
	err = retry(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(`BEGIN`)
		if s.asyncLedger {
			b.Queue(asyncCommit)
		}
		queue(b)
		b.Queue(`COMMIT`)
		err := conn.SendBatch(ctx, b).Close()
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			// A statement failed: the server skipped the rest, COMMIT
			// included. (Release drops a connection this leaves in a
			// transaction.)
			rctx, cancel := cleanupContext(ctx)
			_, _ = conn.Exec(rctx, `ROLLBACK`)
			cancel()
		}
		return err
	})
	return fail(ctx, op, err)
}

// reserveSQL charges $5 to the period ($1, $2) if its balance covers it,
// reading the counter with its row locked: of concurrent reservations in
// any process, each sees the ones before it. The plan's grant is looked up
// in ($13 plans, $14 grants). It returns the counter as it was, and the
// charge's id (NULL: refused, nothing written).
const reserveSQL = `WITH bal AS (
	  SELECT b.charged, b.refunded, b.granted, a.plan
	  FROM balances b JOIN accounts a ON a.id = b.account_id
	  WHERE b.account_id = $1 AND b.period_start = $3
	  FOR UPDATE OF b
	), allowed AS (
	  SELECT 1 FROM bal
	  WHERE coalesce((SELECT p.credits FROM unnest($13::text[], $14::bigint[]) AS p (plan, credits) WHERE p.plan = bal.plan), 0)
	        + bal.granted + bal.refunded - bal.charged >= $5
	), charge AS (
	  INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
	  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM allowed
	  RETURNING id
	), counted AS (
	  UPDATE balances SET charged = charged + $5
	  WHERE account_id = $1 AND period_start = $3 AND EXISTS (SELECT 1 FROM allowed)
	)
	SELECT bal.plan, bal.charged, bal.refunded, bal.granted, (SELECT id FROM charge) FROM bal`

// Reserve implements store.Store: the period's counter row is created if
// missing, then locked, checked and charged, in one transaction.
func (s *Store) Reserve(ctx context.Context, charge store.LedgerEntry, planGrants map[string]int) (store.LedgerEntry, store.Balance, error) {
	entry := charge
	entry.Kind, entry.State = store.EntryCharge, store.ChargePending
	plans := make([]string, 0, len(planGrants))
	credits := make([]int, 0, len(planGrants))
	for p, c := range planGrants {
		plans, credits = append(plans, p), append(credits, c)
	}
	var (
		plan                       string
		charged, refunded, granted int
		id                         *int64
	)
	err := s.pipeline(ctx, "reserve", func(b *pgx.Batch) {
		b.Queue(`INSERT INTO balances (account_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			entry.AccountID, ts(entry.PeriodStart))
		b.Queue(reserveSQL, append(entryArgs(entry), plans, credits)...).
			QueryRow(func(row pgx.Row) error { return row.Scan(&plan, &charged, &refunded, &granted, &id) })
	})
	if isCode(err, foreignKeyViolation) {
		return charge, store.Balance{}, store.ErrNotFound
	}
	if err != nil {
		return charge, store.Balance{}, err
	}
	bal := balanceOf(plan, charged, refunded, granted, planGrants)
	if id == nil {
		return charge, bal, store.ErrInsufficientCredits
	}
	entry.ID = *id
	bal.Used += entry.Amount
	return entry, bal, nil
}

// settleSQL makes the pending charge $2 $1 ('final' or 'refunded'); a
// refund also gets its entry, at $3 for reason $4, and its counter. The
// charge's row is locked before the counter's.
const settleSQL = `WITH settled AS (
	  UPDATE ledger SET state = $1 WHERE id = $2 AND kind = 'charge' AND state = 'pending'
	  RETURNING id, account_id, key_id, period_start, amount, operation, request_id
	), refund AS (
	  INSERT INTO ledger (account_id, key_id, period_start, kind, amount, operation, request_id, state, refund_of, time, instance_id, reason)
	  SELECT account_id, key_id, period_start, 'refund', amount, operation, request_id, '', id, $3, '', $4
	  FROM settled WHERE $1 = 'refunded'
	), counted AS (
	  UPDATE balances b SET refunded = b.refunded + s.amount
	  FROM settled s WHERE $1 = 'refunded' AND b.account_id = s.account_id AND b.period_start = s.period_start
	)
	SELECT count(*) FROM settled`

// Settle implements store.Store.
func (s *Store) Settle(ctx context.Context, chargeID int64, commit bool, at time.Time) error {
	state := store.ChargeFinal
	if !commit {
		state = store.ChargeRefunded
	}
	var n int
	err := s.pipeline(ctx, "settle charge", func(b *pgx.Batch) {
		b.Queue(settleSQL, state, chargeID, ts(at), store.RefundFailed).
			QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	})
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if commit {
		// Not pending: a commit whose reply was lost may have made it
		// final, which a second commit confirms. Read in a statement of
		// its own, which sees a settlement that the one above waited for.
		var final bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger WHERE id = $1 AND kind = 'charge' AND state = 'final')`,
			chargeID).Scan(&final)
		if err != nil {
			return fail(ctx, "settle charge", err)
		}
		if final {
			return nil
		}
	}
	return store.ErrNotFound // refunded, or no such charge
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
		// The balance row first, then the ledger entry, whose foreign key
		// check takes KEY SHARE on the account: DeleteAccount's order.
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO balances (account_id, period_start, granted) VALUES ($1, $2, $3)
			 ON CONFLICT (account_id, period_start) DO UPDATE SET granted = balances.granted + excluded.granted`,
			g.AccountID, ts(g.PeriodStart), g.Amount)
		b.Queue(insertEntrySQL, entryArgs(g)...)
		err := tx.SendBatch(ctx, b).Close()
		if isCode(err, foreignKeyViolation) {
			return store.ErrNotFound
		}
		return err
	})
}

// LedgerEntries implements store.Store.
func (s *Store) LedgerEntries(ctx context.Context, accountID string, periodStart time.Time, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx, ledgerEntriesSQL, accountID, ts(periodStart), after, limit)
}

// The ledger's pages, each read from an index in its order: (account_id,
// period_start, id) and the primary key (account_id, id).
const (
	ledgerEntriesSQL = `SELECT ` + entryColumns + ` FROM ledger
		WHERE account_id = $1 AND period_start = $2 AND id > $3 ORDER BY id LIMIT $4`
	allLedgerEntriesSQL = `SELECT ` + entryColumns + ` FROM ledger WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`
)

// AllLedgerEntries implements store.Store.
func (s *Store) AllLedgerEntries(ctx context.Context, accountID string, after int64, limit int) ([]store.LedgerEntry, error) {
	return s.listEntries(ctx, allLedgerEntriesSQL, accountID, after, limit)
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
