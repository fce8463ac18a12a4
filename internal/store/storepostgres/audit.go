package storepostgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smartimage/enhance/internal/store"
)

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertAudit(ctx context.Context, db execer, e store.AuditEvent) error {
	var account *string
	if e.AccountID != "" {
		account = &e.AccountID
	}
	_, err := db.Exec(ctx,
		`INSERT INTO audit_events (account_id, time, kind, key_id, client_address, reason) VALUES ($1, $2, $3, $4, $5, $6)`,
		account, ts(e.Time), e.Kind, e.KeyID, e.ClientAddress, e.Reason)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// RecordAudit implements store.Store.
func (s *Store) RecordAudit(ctx context.Context, e store.AuditEvent) error {
	return fail(ctx, "record audit event", insertAudit(ctx, s.pool, e))
}

// AuditEvents implements store.Store.
func (s *Store) AuditEvents(ctx context.Context, accountID string, before int64, limit int) ([]store.AuditEvent, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, coalesce(account_id, ''), time, kind, key_id, client_address, reason FROM audit_events
		 WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, accountID, before, limit)
	if err != nil {
		return nil, fail(ctx, "list audit events", err)
	}
	defer rows.Close()
	var events []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		if err := rows.Scan(&e.ID, &e.AccountID, &e.Time, &e.Kind, &e.KeyID, &e.ClientAddress, &e.Reason); err != nil {
			return nil, fail(ctx, "read audit event", err)
		}
		e.Time = utc(e.Time)
		events = append(events, e)
	}
	return events, fail(ctx, "list audit events", rows.Err())
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	// ON CONFLICT DO NOTHING: when instances start together, the first
	// write wins and every one reads it back.
	if _, err := s.pool.Exec(ctx, `INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, fail(ctx, "store secret", err)
	}
	var v []byte
	err = s.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v)
	if err != nil {
		return nil, fail(ctx, "read secret", err)
	}
	return v, nil
}
