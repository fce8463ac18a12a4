package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// throttleSweep bounds how many dead rows one reservation deletes, so
// that the tables stay small without any transaction growing long.
const throttleSweep = 100

// ReserveAttempt implements store.Store. The transaction takes the write
// lock first (_txlock=immediate), so concurrent reservations of one key
// are serialised: each sees the attempts the others recorded.
func (s *Store) ReserveAttempt(ctx context.Context, limits []store.ThrottleLimit, now, expire time.Time) (int64, error) {
	if err := store.CheckThrottleLimits(limits); err != nil {
		return 0, err
	}
	id, err := store.NewThrottleReservation()
	if err != nil {
		return 0, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := sweepThrottles(ctx, tx, now); err != nil {
			return err
		}
		if err := refusal(ctx, tx, limits, now); err != nil {
			return err
		}
		for _, l := range limits {
			if _, err := tx.ExecContext(ctx, `INSERT INTO throttle_pending (reservation, key, expire_time) VALUES (?, ?, ?)`,
				id, l.Key, expire.UnixMicro()); err != nil {
				return fmt.Errorf("storesqlite: reserve attempt: %w", err)
			}
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
	return refusal(ctx, s.db, limits, now)
}

// SettleAttempt implements store.Store.
func (s *Store) SettleAttempt(ctx context.Context, reservation int64, limits []store.ThrottleLimit, outcomes map[string]store.ThrottleOutcome, now time.Time) error {
	if err := store.CheckThrottleLimits(limits); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, l := range limits {
			res, err := tx.ExecContext(ctx, `DELETE FROM throttle_pending WHERE reservation = ? AND key = ? AND expire_time > ?`,
				reservation, l.Key, now.UnixMicro())
			if err != nil {
				return fmt.Errorf("storesqlite: settle attempt: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue // settled already, or expired
			}
			switch outcomes[l.Key] {
			case store.ThrottleKeep:
				c, err := readCount(ctx, tx, l.Key)
				if err != nil {
					return err
				}
				c = c.At(l, now).Counted(l, now)
				_, err = tx.ExecContext(ctx,
					`INSERT INTO throttle_counts (key, attempts, window_start, blocked_until, expire_time) VALUES (?, ?, ?, ?, ?)
					 ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, window_start = excluded.window_start,
					   blocked_until = excluded.blocked_until, expire_time = excluded.expire_time`,
					l.Key, c.Attempts, c.WindowStart.UnixMicro(), c.BlockedUntil.UnixMicro(), c.Expiry(l).UnixMicro())
				if err != nil {
					return fmt.Errorf("storesqlite: count attempt: %w", err)
				}
			case store.ThrottleReset:
				if _, err := tx.ExecContext(ctx, `DELETE FROM throttle_counts WHERE key = ?`, l.Key); err != nil {
					return fmt.Errorf("storesqlite: reset attempts: %w", err)
				}
			}
		}
		return nil
	})
}

// refusal is the first limit that refuses an attempt at now, as a
// *store.ThrottledError, or nil. Each limit costs one statement: its
// count and its attempts in flight together.
func refusal(ctx context.Context, db querier, limits []store.ThrottleLimit, now time.Time) error {
	for _, l := range limits {
		var (
			c            store.ThrottleCount
			start, until sql.NullInt64
			attempts     sql.NullInt64
			pending      int
		)
		err := db.QueryRowContext(ctx,
			`SELECT c.attempts, c.window_start, c.blocked_until,
			        (SELECT count(*) FROM throttle_pending p WHERE p.key = k.key AND p.expire_time > ?)
			 FROM (SELECT ? AS key) k LEFT JOIN throttle_counts c ON c.key = k.key`,
			now.UnixMicro(), l.Key).Scan(&attempts, &start, &until, &pending)
		if err != nil {
			return fmt.Errorf("storesqlite: read attempts: %w", err)
		}
		if attempts.Valid {
			c = store.ThrottleCount{Attempts: int(attempts.Int64), WindowStart: time.UnixMicro(start.Int64), BlockedUntil: time.UnixMicro(until.Int64)}
		}
		if wait, refused := c.At(l, now).Refuses(l, pending, now); refused {
			return &store.ThrottledError{Key: l.Key, RetryAfter: max(wait, time.Second)}
		}
	}
	return nil
}

func readCount(ctx context.Context, db querier, key string) (store.ThrottleCount, error) {
	var (
		c             store.ThrottleCount
		start, bUntil int64
	)
	err := db.QueryRowContext(ctx, `SELECT attempts, window_start, blocked_until FROM throttle_counts WHERE key = ?`, key).
		Scan(&c.Attempts, &start, &bUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ThrottleCount{}, nil
	}
	if err != nil {
		return store.ThrottleCount{}, fmt.Errorf("storesqlite: read attempts: %w", err)
	}
	c.WindowStart, c.BlockedUntil = time.UnixMicro(start), time.UnixMicro(bUntil)
	return c, nil
}

// sweepThrottles deletes a bounded batch of rows that say nothing any more.
func sweepThrottles(ctx context.Context, tx *sql.Tx, now time.Time) error {
	for _, q := range []string{
		`DELETE FROM throttle_counts WHERE key IN (SELECT key FROM throttle_counts WHERE expire_time <= ? LIMIT ?)`,
		`DELETE FROM throttle_pending WHERE rowid IN (SELECT rowid FROM throttle_pending WHERE expire_time <= ? LIMIT ?)`,
	} {
		if _, err := tx.ExecContext(ctx, q, now.UnixMicro(), throttleSweep); err != nil {
			return fmt.Errorf("storesqlite: sweep throttles: %w", err)
		}
	}
	return nil
}
