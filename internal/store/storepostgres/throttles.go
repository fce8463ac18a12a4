package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/smartimage/enhance/internal/store"
)

// The rules are store.ThrottleCount's, as in storesqlite; what differs
// is how a check and its record are made one step: here every call that
// writes takes a transaction-scoped advisory lock per key, in key order,
// so that concurrent calls on one key in every process run one after the
// other and calls on different keys never wait (nor deadlock).

// throttleSweep bounds how many dead rows one reservation deletes, so
// that the tables stay small without any transaction growing long.
const throttleSweep = 100

// lockThrottles takes the locks of limits' keys until tx ends.
func (s *Store) lockThrottles(ctx context.Context, tx pgx.Tx, limits []store.ThrottleLimit) error {
	keys := make([]string, 0, len(limits))
	for _, l := range limits {
		keys = append(keys, l.Key)
	}
	slices.Sort(keys)
	b := &pgx.Batch{}
	for _, k := range keys {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, s.lockKey("throttle", k))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("lock throttle keys: %w", err)
	}
	return nil
}

// ReserveAttempt implements store.Store.
func (s *Store) ReserveAttempt(ctx context.Context, limits []store.ThrottleLimit, now, expire time.Time) (int64, error) {
	if err := store.CheckThrottleLimits(limits); err != nil {
		return 0, err
	}
	id, err := store.NewThrottleReservation()
	if err != nil {
		return 0, err
	}
	err = s.inTx(ctx, "reserve attempt", func(tx pgx.Tx) error {
		if err := s.lockThrottles(ctx, tx, limits); err != nil {
			return err
		}
		if err := sweepThrottles(ctx, tx, now); err != nil {
			return err
		}
		if err := refusal(ctx, tx, limits, now); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, l := range limits {
			b.Queue(`INSERT INTO throttle_pending (reservation, key, expire_time) VALUES ($1, $2, $3)`, id, l.Key, ts(expire))
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("reserve attempt: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// CheckAttempt implements store.Store: the same reads as ReserveAttempt,
// outside any transaction, so it takes no lock.
func (s *Store) CheckAttempt(ctx context.Context, limits []store.ThrottleLimit, now time.Time) error {
	if err := store.CheckThrottleLimits(limits); err != nil {
		return err
	}
	return fail(ctx, "check attempt", refusal(ctx, s.pool, limits, now))
}

// SettleAttempt implements store.Store.
func (s *Store) SettleAttempt(ctx context.Context, reservation int64, limits []store.ThrottleLimit, outcomes map[string]store.ThrottleOutcome, now time.Time) error {
	if err := store.CheckThrottleLimits(limits); err != nil {
		return err
	}
	return s.inTx(ctx, "settle attempt", func(tx pgx.Tx) error {
		if err := s.lockThrottles(ctx, tx, limits); err != nil {
			return err
		}
		for _, l := range limits {
			tag, err := tx.Exec(ctx, `DELETE FROM throttle_pending WHERE reservation = $1 AND key = $2 AND expire_time > $3`,
				reservation, l.Key, ts(now))
			if err != nil {
				return fmt.Errorf("settle attempt: %w", err)
			}
			if tag.RowsAffected() == 0 {
				continue // settled already, or expired
			}
			switch outcomes[l.Key] {
			case store.ThrottleKeep:
				c, err := readCount(ctx, tx, l.Key)
				if err != nil {
					return err
				}
				c = c.At(l, now).Counted(l, now)
				_, err = tx.Exec(ctx,
					`INSERT INTO throttle_counts (key, attempts, window_start, blocked_until, expire_time) VALUES ($1, $2, $3, $4, $5)
					 ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, window_start = excluded.window_start,
					   blocked_until = excluded.blocked_until, expire_time = excluded.expire_time`,
					l.Key, c.Attempts, ts(c.WindowStart), ts(c.BlockedUntil), ts(c.Expiry(l)))
				if err != nil {
					return fmt.Errorf("count attempt: %w", err)
				}
			case store.ThrottleReset:
				if _, err := tx.Exec(ctx, `DELETE FROM throttle_counts WHERE key = $1`, l.Key); err != nil {
					return fmt.Errorf("reset attempts: %w", err)
				}
			}
		}
		return nil
	})
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// refusal is the first limit that refuses an attempt at now, as a
// *store.ThrottledError, or nil. Each limit costs one statement: its
// count and its attempts in flight together.
func refusal(ctx context.Context, db querier, limits []store.ThrottleLimit, now time.Time) error {
	for _, l := range limits {
		var (
			c            store.ThrottleCount
			start, until pgtype.Timestamptz
			attempts     *int
			pending      int
		)
		err := db.QueryRow(ctx,
			`SELECT c.attempts, c.window_start, c.blocked_until,
			        (SELECT count(*) FROM throttle_pending p WHERE p.key = k.key AND p.expire_time > $1)
			 FROM (SELECT $2::text COLLATE "C" AS key) k LEFT JOIN throttle_counts c ON c.key = k.key`,
			ts(now), l.Key).Scan(&attempts, &start, &until, &pending)
		if err != nil {
			return fmt.Errorf("read attempts: %w", err)
		}
		if attempts != nil {
			c = store.ThrottleCount{Attempts: *attempts, WindowStart: start.Time, BlockedUntil: until.Time}
		}
		if wait, refused := c.At(l, now).Refuses(l, pending, now); refused {
			return &store.ThrottledError{Key: l.Key, RetryAfter: max(wait, time.Second)}
		}
	}
	return nil
}

func readCount(ctx context.Context, db querier, key string) (store.ThrottleCount, error) {
	var c store.ThrottleCount
	err := db.QueryRow(ctx, `SELECT attempts, window_start, blocked_until FROM throttle_counts WHERE key = $1`, key).
		Scan(&c.Attempts, &c.WindowStart, &c.BlockedUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ThrottleCount{}, nil
	}
	if err != nil {
		return store.ThrottleCount{}, fmt.Errorf("read attempts: %w", err)
	}
	return c, nil
}

// sweepThrottles deletes a bounded batch of rows that say nothing any
// more. Rows other transactions hold are skipped, so that a sweep never
// waits on (or deadlocks with) a call on another key.
func sweepThrottles(ctx context.Context, tx pgx.Tx, now time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM throttle_counts WHERE key IN (
		SELECT key FROM throttle_counts WHERE expire_time <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, ts(now), throttleSweep)
	b.Queue(`DELETE FROM throttle_pending WHERE (reservation, key) IN (
		SELECT reservation, key FROM throttle_pending WHERE expire_time <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, ts(now), throttleSweep)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("sweep throttles: %w", err)
	}
	return nil
}
