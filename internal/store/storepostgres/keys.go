package storepostgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/smartimage/enhance/internal/store"
)

const keyColumns = `id, account_id, display_name, secret_hash, scopes, create_time, expire_time, revoke_time,
	last_use_time, previous_secret_hash, previous_expire_time`

func scanKey(ctx context.Context, row scanner) (store.APIKey, error) {
	var (
		k                                      store.APIKey
		scopes                                 string
		expires, revoked, lastUse, prevExpires pgtype.Timestamptz
	)
	err := row.Scan(&k.ID, &k.AccountID, &k.DisplayName, &k.SecretHash, &scopes, &k.CreateTime, &expires, &revoked,
		&lastUse, &k.PreviousSecretHash, &prevExpires)
	if err != nil {
		return store.APIKey{}, fail(ctx, "read key", err)
	}
	k.Scopes = strings.Fields(scopes)
	k.CreateTime = utc(k.CreateTime)
	k.ExpireTime = fromNull(expires)
	k.RevokeTime = fromNull(revoked)
	k.LastUseTime = fromNull(lastUse)
	k.PreviousExpireTime = fromNull(prevExpires)
	return k, nil
}

// APIKey implements store.Store.
func (s *Store) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	return scanKey(ctx, s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
}

// CreateAPIKey implements store.Store. The account's row is locked first,
// so that concurrent creations count each other's keys.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey, event store.AuditEvent, maxKeys int) error {
	return s.inTx(ctx, "create key", func(tx pgx.Tx) error {
		// NO KEY UPDATE: ledger and other inserts naming the account
		// (which take KEY SHARE) need not wait.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, k.AccountID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx,
			`SELECT count(*) FROM api_keys WHERE account_id = $1 AND revoke_time IS NULL`, k.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("count keys: %w", err)
		}
		if n >= maxKeys {
			return fmt.Errorf("storepostgres: account holds %d keys: %w", n, store.ErrLimit)
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
		`SELECT `+keyColumns+` FROM api_keys WHERE account_id = $1 AND revoke_time IS NULL ORDER BY create_time, id`, accountID)
}

// AllAPIKeys implements store.Store.
func (s *Store) AllAPIKeys(ctx context.Context, accountID string) ([]store.APIKey, error) {
	return s.listKeys(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE account_id = $1 ORDER BY create_time, id`, accountID)
}

func (s *Store) listKeys(ctx context.Context, query string, args ...any) ([]store.APIKey, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fail(ctx, "list keys", err)
	}
	defer rows.Close()
	var keys []store.APIKey
	for rows.Next() {
		k, err := scanKey(ctx, rows)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, fail(ctx, "list keys", rows.Err())
}

// UpdateAPIKey implements store.Store. The key's row stays locked from
// its read to its write, so that concurrent updates apply one after the
// other.
func (s *Store) UpdateAPIKey(ctx context.Context, accountID, id string, update store.KeyUpdate, event store.AuditEvent) (store.APIKey, error) {
	var (
		k         store.APIKey
		updateErr error
	)
	err := s.inTx(ctx, "update key", func(tx pgx.Tx) error {
		var err error
		k, err = scanKey(ctx, tx.QueryRow(ctx,
			`SELECT `+keyColumns+` FROM api_keys WHERE id = $1 AND account_id = $2 AND revoke_time IS NULL FOR UPDATE`, id, accountID))
		if err != nil {
			return err
		}
		if updateErr = update(&k); updateErr != nil {
			return updateErr
		}
		_, err = tx.Exec(ctx,
			`UPDATE api_keys SET display_name = $1, secret_hash = $2, scopes = $3, expire_time = $4, revoke_time = $5,
			 previous_secret_hash = $6, previous_expire_time = $7 WHERE id = $8`,
			k.DisplayName, k.SecretHash, strings.Join(k.Scopes, " "), nullTime(k.ExpireTime), nullTime(k.RevokeTime),
			k.PreviousSecretHash, nullTime(k.PreviousExpireTime), k.ID)
		if err != nil {
			return fmt.Errorf("update key: %w", err)
		}
		return insertAudit(ctx, tx, event)
	})
	if updateErr != nil {
		return store.APIKey{}, updateErr // the caller's, as it made it
	}
	if err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// TouchAPIKeys implements store.Store. The rows are written in id order,
// so that two instances flushing at once cannot deadlock.
func (s *Store) TouchAPIKeys(ctx context.Context, lastUse map[string]time.Time) error {
	if len(lastUse) == 0 {
		return nil
	}
	ids := make([]string, 0, len(lastUse))
	for id := range lastUse {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return s.inTx(ctx, "touch keys", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, id := range ids {
			// GREATEST ignores a NULL: a first use is written as it is.
			b.Queue(`UPDATE api_keys SET last_use_time = GREATEST(last_use_time, $1) WHERE id = $2`, ts(lastUse[id]), id)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}
