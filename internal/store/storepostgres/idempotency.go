package storepostgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartimage/enhance/internal/store"
)

// BeginIdempotent implements store.Store. The insert comes first: of two
// instances beginning one key at once, the second waits for the first's
// row and finds it.
func (s *Store) BeginIdempotent(ctx context.Context, call store.IdempotentCall, expired, abandoned time.Time) (store.IdempotentCall, bool, error) {
	var (
		existing store.IdempotentCall
		found    bool
	)
	err := s.inTx(ctx, "begin idempotent call", func(tx pgx.Tx) error {
		found = false // a retried transaction starts afresh
		tag, err := tx.Exec(ctx,
			`INSERT INTO idempotency (account_id, key, request_hash, state, create_time, instance_id)
			 VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (account_id, key) DO NOTHING`,
			call.AccountID, call.Key, call.RequestHash, ts(call.CreateTime), call.Instance)
		if err != nil {
			return fmt.Errorf("insert idempotent call: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var state string
		err = tx.QueryRow(ctx,
			`SELECT request_hash, state, response, header, create_time FROM idempotency
			 WHERE account_id = $1 AND key = $2 FOR UPDATE`, call.AccountID, call.Key).
			Scan(&existing.RequestHash, &state, &existing.Response, &existing.Header, &existing.CreateTime)
		if err != nil {
			return fmt.Errorf("read idempotent call: %w", err)
		}
		existing.AccountID, existing.Key = call.AccountID, call.Key
		existing.Done = state == "done"
		existing.CreateTime = utc(existing.CreateTime)
		if !existing.CreateTime.Before(expired) && (existing.Done || !existing.CreateTime.Before(abandoned)) {
			found = true
			return nil
		}
		// Expired, or abandoned by a dead server: replaced.
		_, err = tx.Exec(ctx,
			`UPDATE idempotency SET request_hash = $3, state = 'running', response = NULL, header = NULL, create_time = $4, instance_id = $5
			 WHERE account_id = $1 AND key = $2`,
			call.AccountID, call.Key, call.RequestHash, ts(call.CreateTime), call.Instance)
		if err != nil {
			return fmt.Errorf("replace idempotent call: %w", err)
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
	tag, err := s.pool.Exec(ctx,
		`UPDATE idempotency SET state = 'done', response = $1, header = $2
		 WHERE account_id = $3 AND key = $4 AND state = 'running' AND instance_id = $5 AND create_time = $6`,
		response, header, call.AccountID, call.Key, call.Instance, ts(call.CreateTime))
	if err != nil {
		return fail(ctx, "finish idempotent call", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// AbandonIdempotent implements store.Store; the call is named as
// FinishIdempotent names it.
func (s *Store) AbandonIdempotent(ctx context.Context, call store.IdempotentCall) error {
	_, err := s.pool.Exec(ctx,
		`DELETE FROM idempotency WHERE account_id = $1 AND key = $2 AND state = 'running' AND instance_id = $3 AND create_time = $4`,
		call.AccountID, call.Key, call.Instance, ts(call.CreateTime))
	return fail(ctx, "abandon idempotent call", err)
}

// IdempotentCalls implements store.Store. It never reads the response
// and header columns.
func (s *Store) IdempotentCalls(ctx context.Context, accountID, after string, limit int) ([]store.IdempotentCall, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT key, state, create_time FROM idempotency WHERE account_id = $1 AND key > $2 ORDER BY key LIMIT $3`,
		accountID, after, limit)
	if err != nil {
		return nil, fail(ctx, "list idempotent calls", err)
	}
	defer rows.Close()
	var out []store.IdempotentCall
	for rows.Next() {
		var (
			c     = store.IdempotentCall{AccountID: accountID}
			state string
		)
		if err := rows.Scan(&c.Key, &state, &c.CreateTime); err != nil {
			return nil, fail(ctx, "read idempotent call", err)
		}
		c.Done = state == "done"
		c.CreateTime = utc(c.CreateTime)
		out = append(out, c)
	}
	return out, fail(ctx, "list idempotent calls", rows.Err())
}

// SweepIdempotent implements store.Store.
func (s *Store) SweepIdempotent(ctx context.Context, expired time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency WHERE create_time < $1`, ts(expired))
	if err != nil {
		return 0, fail(ctx, "sweep idempotent calls", err)
	}
	return int(tag.RowsAffected()), nil
}

// AbandonInstanceCalls implements store.Store.
func (s *Store) AbandonInstanceCalls(ctx context.Context, instanceID string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency WHERE state = 'running' AND instance_id = $1`, instanceID)
	if err != nil {
		return 0, fail(ctx, "forget an instance's running calls", err)
	}
	return int(tag.RowsAffected()), nil
}
