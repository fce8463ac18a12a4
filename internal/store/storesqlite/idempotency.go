package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// BeginIdempotent implements store.Store.
func (s *Store) BeginIdempotent(ctx context.Context, call store.IdempotentCall, expired, abandoned time.Time) (store.IdempotentCall, bool, error) {
	var (
		existing store.IdempotentCall
		found    bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			state   string
			created int64
		)
		err := tx.QueryRowContext(ctx,
			`SELECT request_hash, state, response, header, create_time FROM idempotency WHERE account_id = ? AND key = ?`,
			call.AccountID, call.Key).
			Scan(&existing.RequestHash, &state, &existing.Response, &existing.Header, &created)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("storesqlite: read idempotent call: %w", err)
		default:
			existing.AccountID, existing.Key = call.AccountID, call.Key
			existing.Done = state == "done"
			existing.CreateTime = time.UnixMicro(created).UTC()
			if !existing.CreateTime.Before(expired) && (existing.Done || !existing.CreateTime.Before(abandoned)) {
				found = true
				return nil
			}
		}
		_, err = tx.ExecContext(ctx,
			`INSERT OR REPLACE INTO idempotency (account_id, key, request_hash, state, response, header, create_time, instance_id)
			 VALUES (?, ?, ?, 'running', NULL, NULL, ?, ?)`,
			call.AccountID, call.Key, call.RequestHash, call.CreateTime.UnixMicro(), call.Instance)
		if err != nil {
			return fmt.Errorf("storesqlite: insert idempotent call: %w", err)
		}
		return nil
	})
	if err != nil || !found {
		return store.IdempotentCall{}, false, err
	}
	return existing, true, nil
}

// FinishIdempotent implements store.Store. The call is its beginner's by
// its process and create time: a retry's call that replaced it, once it
// was taken for dead, has a create time of its own.
func (s *Store) FinishIdempotent(ctx context.Context, call store.IdempotentCall, response, header []byte) error {
	res, err := s.exec(ctx,
		`UPDATE idempotency SET state = 'done', response = ?, header = ?
		 WHERE account_id = ? AND key = ? AND state = 'running' AND instance_id = ? AND create_time = ?`,
		response, header, call.AccountID, call.Key, call.Instance, call.CreateTime.UnixMicro())
	if err != nil {
		return fmt.Errorf("storesqlite: finish idempotent call: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AbandonIdempotent implements store.Store; the call is named as
// FinishIdempotent names it.
func (s *Store) AbandonIdempotent(ctx context.Context, call store.IdempotentCall) error {
	_, err := s.exec(ctx,
		`DELETE FROM idempotency WHERE account_id = ? AND key = ? AND state = 'running' AND instance_id = ? AND create_time = ?`,
		call.AccountID, call.Key, call.Instance, call.CreateTime.UnixMicro())
	if err != nil {
		return fmt.Errorf("storesqlite: abandon idempotent call: %w", err)
	}
	return nil
}

// IdempotentCalls implements store.Store. It never reads the response
// and header columns.
func (s *Store) IdempotentCalls(ctx context.Context, accountID, after string, limit int) ([]store.IdempotentCall, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT key, state, create_time FROM idempotency WHERE account_id = ? AND key > ? ORDER BY key LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list idempotent calls: %w", err)
	}
	defer rows.Close()
	var out []store.IdempotentCall
	for rows.Next() {
		var (
			c       = store.IdempotentCall{AccountID: accountID}
			state   string
			created int64
		)
		if err := rows.Scan(&c.Key, &state, &created); err != nil {
			return nil, fmt.Errorf("storesqlite: read idempotent call: %w", err)
		}
		c.Done = state == "done"
		c.CreateTime = time.UnixMicro(created).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// SweepIdempotent implements store.Store.
func (s *Store) SweepIdempotent(ctx context.Context, expired time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM idempotency WHERE create_time < ?`, expired.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("storesqlite: sweep idempotent calls: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// AbandonInstanceCalls implements store.Store.
func (s *Store) AbandonInstanceCalls(ctx context.Context, instanceID string) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM idempotency WHERE state = 'running' AND instance_id = ?`, instanceID)
	if err != nil {
		return 0, fmt.Errorf("storesqlite: forget an instance's running calls: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
