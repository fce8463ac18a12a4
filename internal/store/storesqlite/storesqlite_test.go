package storesqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := storesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "enhance.db"))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enhance.db")
	s, err := storesqlite.Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, s.CreateAccount(ctx, store.Account{ID: "a", Email: "a@example.com", PasswordHash: "h"},
		store.APIKey{ID: "k", AccountID: "a", SecretHash: []byte{1}}))
	require.NoError(t, s.Close())

	s, err = storesqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	n, err := s.AccountCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
