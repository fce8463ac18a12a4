// Package storetest is the conformance suite every store.Store
// implementation must pass, run against each real database.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// Run runs the suite; open returns a new, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("CreateAccountAndReadKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
		acct := store.Account{ID: "a1", Email: "Ann@Example.com", PasswordHash: "$argon2id$x", CreateTime: now}
		key := store.APIKey{
			ID: "k1", AccountID: "a1", DisplayName: "default", SecretHash: []byte{1, 2, 3},
			Scopes: []string{"images:enhance", "usage:read"}, CreateTime: now, ExpireTime: now.Add(time.Hour),
		}
		require.NoError(t, s.CreateAccount(ctx, acct, key))
		got, err := s.APIKey(ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, key, got)
		n, err := s.AccountCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		_, err = s.APIKey(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("DuplicateEmailWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		require.NoError(t, s.CreateAccount(ctx,
			store.Account{ID: "a1", Email: "bob@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
		err := s.CreateAccount(ctx,
			store.Account{ID: "a2", Email: "BOB@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k2", AccountID: "a2", SecretHash: []byte{2}, CreateTime: now})
		require.ErrorIs(t, err, store.ErrConflict, "emails are unique whatever their case")
		_, err = s.APIKey(ctx, "k2")
		require.ErrorIs(t, err, store.ErrNotFound, "no key is half-written")
		n, err := s.AccountCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, open(t).Ping(context.Background()))
	})
}
