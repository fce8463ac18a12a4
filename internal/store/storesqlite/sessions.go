package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, ses store.Session, event store.AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// Expired sessions are swept here, where sessions are written anyway.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expire_time <= ?`, ses.CreateTime.UnixMicro()); err != nil {
			return fmt.Errorf("storesqlite: sweep sessions: %w", err)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (id, account_id, secret_hash, create_time, expire_time, client_address) VALUES (?, ?, ?, ?, ?, ?)`,
			ses.ID, ses.AccountID, ses.SecretHash, ses.CreateTime.UnixMicro(), ses.ExpireTime.UnixMicro(), ses.ClientAddress)
		if err != nil {
			return fmt.Errorf("storesqlite: insert session: %w", err)
		}
		return insertAudit(ctx, tx, event)
	})
}

// Session implements store.Store.
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	var (
		ses              store.Session
		created, expires int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, account_id, secret_hash, create_time, expire_time, client_address FROM sessions WHERE id = ?`, id).
		Scan(&ses.ID, &ses.AccountID, &ses.SecretHash, &created, &expires, &ses.ClientAddress)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("storesqlite: read session: %w", err)
	}
	ses.CreateTime = time.UnixMicro(created).UTC()
	ses.ExpireTime = time.UnixMicro(expires).UTC()
	return ses, nil
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string, event store.AuditEvent) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("storesqlite: delete session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return insertAudit(ctx, tx, event)
	})
}

// Sessions implements store.Store.
func (s *Store) Sessions(ctx context.Context, accountID string) ([]store.Session, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, account_id, secret_hash, create_time, expire_time, client_address FROM sessions
		 WHERE account_id = ? ORDER BY create_time, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list sessions: %w", err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		var (
			ses              store.Session
			created, expires int64
		)
		if err := rows.Scan(&ses.ID, &ses.AccountID, &ses.SecretHash, &created, &expires, &ses.ClientAddress); err != nil {
			return nil, fmt.Errorf("storesqlite: read session: %w", err)
		}
		ses.CreateTime = time.UnixMicro(created).UTC()
		ses.ExpireTime = time.UnixMicro(expires).UTC()
		out = append(out, ses)
	}
	return out, rows.Err()
}
