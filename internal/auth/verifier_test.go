package auth_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func TestVerifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })

	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v, err := auth.NewVerifier(db, func() time.Time { return now })
	require.NoError(t, err)

	mk := func(email string, expire, revoke time.Time) auth.Key {
		k, err := auth.NewKey()
		require.NoError(t, err)
		acct := store.Account{ID: email, Email: email, PasswordHash: "x", CreateTime: now}
		require.NoError(t, db.CreateAccount(ctx, acct, store.APIKey{
			ID: k.ID, AccountID: acct.ID, DisplayName: "k", SecretHash: k.SecretHash(),
			Scopes: []string{auth.ScopeImagesEnhance}, CreateTime: now, ExpireTime: expire, RevokeTime: revoke,
		}))
		return k
	}
	good := mk("good@example.com", time.Time{}, time.Time{})
	expired := mk("expired@example.com", now.Add(-time.Second), time.Time{})
	revoked := mk("revoked@example.com", time.Time{}, now.Add(-time.Minute))
	later := mk("later@example.com", now.Add(time.Hour), time.Time{})
	unknown, err := auth.NewKey()
	require.NoError(t, err)
	wrongSecret := auth.Key{ID: good.ID, Secret: unknown.Secret}

	p, err := v.Verify(ctx, good.String())
	require.NoError(t, err)
	require.Equal(t, "good@example.com", p.AccountID)
	require.True(t, p.Has(auth.ScopeImagesEnhance))
	require.False(t, p.Has(auth.ScopeKeysManage))
	_, err = v.Verify(ctx, later.String())
	require.NoError(t, err)

	for name, raw := range map[string]string{
		"empty":        "",
		"garbage":      "hello",
		"expired":      expired.String(),
		"revoked":      revoked.String(),
		"unknown id":   unknown.String(),
		"wrong secret": wrongSecret.String(),
	} {
		_, err := v.Verify(ctx, raw)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
	}
}
