package storesqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
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
	if err := checkLimits(limits); err != nil {
		return 0, err
	}
	id, err := newReservation()
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
	if err := checkLimits(limits); err != nil {
		return err
	}
	return refusal(ctx, s.db, limits, now)
}

// SettleAttempt implements store.Store.
func (s *Store) SettleAttempt(ctx context.Context, reservation int64, limits []store.ThrottleLimit, outcomes map[string]store.ThrottleOutcome, now time.Time) error {
	if err := checkLimits(limits); err != nil {
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
				c = c.at(l, now).counted(l, now)
				_, err = tx.ExecContext(ctx,
					`INSERT INTO throttle_counts (key, attempts, window_start, blocked_until, expire_time) VALUES (?, ?, ?, ?, ?)
					 ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, window_start = excluded.window_start,
					   blocked_until = excluded.blocked_until, expire_time = excluded.expire_time`,
					l.Key, c.attempts, c.windowStart.UnixMicro(), c.blockedUntil.UnixMicro(), c.expiry(l).UnixMicro())
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
			c            throttleCount
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
			c = throttleCount{attempts: int(attempts.Int64), windowStart: time.UnixMicro(start.Int64), blockedUntil: time.UnixMicro(until.Int64)}
		}
		if wait, refused := c.at(l, now).refuses(l, pending, now); refused {
			return &store.ThrottledError{Key: l.Key, RetryAfter: max(wait, time.Second)}
		}
	}
	return nil
}

// throttleCount is a key's counted attempts.
type throttleCount struct {
	attempts                  int
	windowStart, blockedUntil time.Time
}

func readCount(ctx context.Context, db querier, key string) (throttleCount, error) {
	var (
		c             throttleCount
		start, bUntil int64
	)
	err := db.QueryRowContext(ctx, `SELECT attempts, window_start, blocked_until FROM throttle_counts WHERE key = ?`, key).
		Scan(&c.attempts, &start, &bUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return throttleCount{}, nil
	}
	if err != nil {
		return throttleCount{}, fmt.Errorf("storesqlite: read attempts: %w", err)
	}
	c.windowStart, c.blockedUntil = time.UnixMicro(start), time.UnixMicro(bUntil)
	return c, nil
}

// at is c as it stands at now: forgotten once both its window and its
// block are over.
func (c throttleCount) at(l store.ThrottleLimit, now time.Time) throttleCount {
	if c.attempts > 0 && !now.Before(c.windowStart.Add(l.Window)) && !now.Before(c.blockedUntil) {
		return throttleCount{}
	}
	return c
}

// refuses reports whether an attempt at now is refused, with pending
// attempts in flight, and for how long. Below the limit, attempts in
// flight count as counted ones; past it (a block that ended inside the
// window), one attempt at a time may pass.
func (c throttleCount) refuses(l store.ThrottleLimit, pending int, now time.Time) (time.Duration, bool) {
	if now.Before(c.blockedUntil) {
		return c.blockedUntil.Sub(now), true
	}
	n := c.attempts + pending
	if n < l.Limit || c.attempts >= l.Limit && pending == 0 {
		return 0, false
	}
	// Refused for attempts in flight: say how long their failures would
	// block the key.
	return blockFor(l, n), true
}

// counted is c with one more attempt counted at now.
func (c throttleCount) counted(l store.ThrottleLimit, now time.Time) throttleCount {
	if c.attempts == 0 {
		c.windowStart = now
	}
	c.attempts++
	if c.attempts >= l.Limit {
		c.blockedUntil = now.Add(blockFor(l, c.attempts))
	}
	return c
}

// expiry is when c says nothing any more.
func (c throttleCount) expiry(l store.ThrottleLimit) time.Time {
	end := c.windowStart.Add(l.Window)
	if c.blockedUntil.After(end) {
		return c.blockedUntil
	}
	return end
}

// blockFor is how long the n-th counted attempt (n ≥ Limit) blocks.
func blockFor(l store.ThrottleLimit, n int) time.Duration {
	d := l.Block
	for i := l.Limit; i < n && d < l.MaxBlock; i++ {
		d *= 2
	}
	if l.MaxBlock > l.Block {
		d = min(d, l.MaxBlock)
	}
	return d
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

func checkLimits(limits []store.ThrottleLimit) error {
	seen := map[string]bool{}
	for _, l := range limits {
		if l.Key == "" || l.Limit < 1 || l.Window <= 0 || l.Block <= 0 || seen[l.Key] {
			return fmt.Errorf("storesqlite: bad throttle limit %+v (keys are unique, limits and durations positive)", l)
		}
		seen[l.Key] = true
	}
	return nil
}

// newReservation is a random positive id: reservations are made by every
// process sharing the database, and one settled late must never match
// another's.
func newReservation() (int64, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[:]) >> 1), nil
}
