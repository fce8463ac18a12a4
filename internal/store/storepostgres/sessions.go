package storepostgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/smartimage/enhance/internal/store"
)

const sessionColumns = `id, account_id, secret_hash, create_time, expire_time, client_address`

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ses store.Session, event store.AuditEvent) error {
	return s.inTx(ctx, "create session", func(tx pgx.Tx) error {
		// Expired sessions are swept here, where sessions are written
		// anyway; rows another sweep holds are left to it, so that two
		// sign-ins never wait on each other.
		if _, err := tx.Exec(ctx,
			`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expire_time <= $1 FOR UPDATE SKIP LOCKED)`,
			ts(ses.CreateTime)); err != nil {
			return fmt.Errorf("sweep sessions: %w", err)
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			ses.ID, ses.AccountID, ses.SecretHash, ts(ses.CreateTime), ts(ses.ExpireTime), ses.ClientAddress)
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return insertAudit(ctx, tx, event)
	})
}

func scanSession(ctx context.Context, row scanner) (store.Session, error) {
	var ses store.Session
	err := row.Scan(&ses.ID, &ses.AccountID, &ses.SecretHash, &ses.CreateTime, &ses.ExpireTime, &ses.ClientAddress)
	if err != nil {
		return store.Session{}, fail(ctx, "read session", err)
	}
	ses.CreateTime, ses.ExpireTime = utc(ses.CreateTime), utc(ses.ExpireTime)
	return ses, nil
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	return scanSession(ctx, s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string, event store.AuditEvent) error {
	return s.inTx(ctx, "delete session", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return insertAudit(ctx, tx, event)
	})
}

// Sessions implements store.Store.
func (s *Store) Sessions(ctx context.Context, accountID string) ([]store.Session, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT `+sessionColumns+` FROM sessions WHERE account_id = $1 ORDER BY create_time, id`, accountID)
	if err != nil {
		return nil, fail(ctx, "list sessions", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		ses, err := scanSession(ctx, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ses)
	}
	return out, fail(ctx, "list sessions", rows.Err())
}
