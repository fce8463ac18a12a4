package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAudit(ctx context.Context, db execer, e store.AuditEvent) error {
	account := sql.NullString{String: e.AccountID, Valid: e.AccountID != ""}
	_, err := db.ExecContext(ctx,
		`INSERT INTO audit_events (account_id, time, kind, key_id, client_address, reason) VALUES (?, ?, ?, ?, ?, ?)`,
		account, e.Time.UnixMicro(), e.Kind, e.KeyID, e.ClientAddress, e.Reason)
	if err != nil {
		return fmt.Errorf("storesqlite: insert audit event: %w", err)
	}
	return nil
}

// RecordAudit implements store.Store. The write waits its turn with this
// process's other writers, as every write does.
func (s *Store) RecordAudit(ctx context.Context, e store.AuditEvent) error {
	return insertAudit(ctx, writerTurn{s}, e)
}

// writerTurn makes a lone statement an execer that takes the writer's turn.
type writerTurn struct{ s *Store }

func (w writerTurn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return w.s.exec(ctx, query, args...)
}

// AuditEvents implements store.Store.
func (s *Store) AuditEvents(ctx context.Context, accountID string, before int64, limit int) ([]store.AuditEvent, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT id, account_id, time, kind, key_id, client_address, reason FROM audit_events
		 WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, accountID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list audit events: %w", err)
	}
	defer rows.Close()
	var events []store.AuditEvent
	for rows.Next() {
		var (
			e  store.AuditEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &e.AccountID, &at, &e.Kind, &e.KeyID, &e.ClientAddress, &e.Reason); err != nil {
			return nil, err
		}
		e.Time = time.UnixMicro(at).UTC()
		events = append(events, e)
	}
	return events, rows.Err()
}

// Secret implements store.Store.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	fresh, err := generate()
	if err != nil {
		return nil, err
	}
	// INSERT OR IGNORE: when two instances start together, the first
	// write wins and both read it back.
	if _, err := s.exec(ctx, `INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)`, name, fresh); err != nil {
		return nil, fmt.Errorf("storesqlite: store secret: %w", err)
	}
	var v []byte
	err = s.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return v, err
}
