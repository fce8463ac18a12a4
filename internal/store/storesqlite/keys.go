package storesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

const keyColumns = `id, account_id, display_name, secret_hash, scopes, create_time, expire_time, revoke_time,
	last_use_time, previous_secret_hash, previous_expire_time`

type scanner interface{ Scan(dest ...any) error }

func scanKey(row scanner) (store.APIKey, error) {
	var (
		k                                      store.APIKey
		scopes                                 string
		created                                int64
		expires, revoked, lastUse, prevExpires sql.NullInt64
	)
	err := row.Scan(&k.ID, &k.AccountID, &k.DisplayName, &k.SecretHash, &scopes, &created, &expires, &revoked,
		&lastUse, &k.PreviousSecretHash, &prevExpires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, store.ErrNotFound
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("storesqlite: read key: %w", err)
	}
	k.Scopes = strings.Fields(scopes)
	k.CreateTime = time.UnixMicro(created).UTC()
	k.ExpireTime = fromNull(expires)
	k.RevokeTime = fromNull(revoked)
	k.LastUseTime = fromNull(lastUse)
	k.PreviousExpireTime = fromNull(prevExpires)
	return k, nil
}

// APIKey implements store.Store.
func (s *Store) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	return scanKey(s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
}

// CreateAPIKey implements store.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey, event store.AuditEvent, maxKeys int) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM api_keys WHERE account_id = ? AND revoke_time IS NULL`, k.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("storesqlite: count keys: %w", err)
		}
		if n >= maxKeys {
			return fmt.Errorf("storesqlite: account holds %d keys: %w", n, store.ErrLimit)
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertAudit(ctx, tx, event)
	})
}

// APIKeys implements store.Store.
func (s *Store) APIKeys(ctx context.Context, accountID string) ([]store.APIKey, error) {
	return s.listKeys(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE account_id = ? AND revoke_time IS NULL ORDER BY create_time, id`, accountID)
}

// AllAPIKeys implements store.Store.
func (s *Store) AllAPIKeys(ctx context.Context, accountID string) ([]store.APIKey, error) {
	return s.listKeys(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE account_id = ? ORDER BY create_time, id`, accountID)
}

func (s *Store) listKeys(ctx context.Context, query string, args ...any) ([]store.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("storesqlite: list keys: %w", err)
	}
	defer rows.Close()
	var keys []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// UpdateAPIKey implements store.Store.
func (s *Store) UpdateAPIKey(ctx context.Context, accountID, id string, update store.KeyUpdate, event store.AuditEvent) (store.APIKey, error) {
	var k store.APIKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx,
			`SELECT `+keyColumns+` FROM api_keys WHERE id = ? AND account_id = ? AND revoke_time IS NULL`, id, accountID))
		if err != nil {
			return err
		}
		if err := update(&k); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE api_keys SET display_name = ?, secret_hash = ?, scopes = ?, expire_time = ?, revoke_time = ?,
			 previous_secret_hash = ?, previous_expire_time = ? WHERE id = ?`,
			k.DisplayName, k.SecretHash, strings.Join(k.Scopes, " "), nullTime(k.ExpireTime), nullTime(k.RevokeTime),
			k.PreviousSecretHash, nullTime(k.PreviousExpireTime), k.ID)
		if err != nil {
			return fmt.Errorf("storesqlite: update key: %w", err)
		}
		return insertAudit(ctx, tx, event)
	})
	if err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// TouchAPIKeys implements store.Store.
func (s *Store) TouchAPIKeys(ctx context.Context, lastUse map[string]time.Time) error {
	if len(lastUse) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx,
			`UPDATE api_keys SET last_use_time = max(coalesce(last_use_time, 0), ?) WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, t := range lastUse {
			if _, err := stmt.ExecContext(ctx, t.UnixMicro(), id); err != nil {
				return fmt.Errorf("storesqlite: touch key: %w", err)
			}
		}
		return nil
	})
}
