package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storesqlite.Open(ctx, filepath.Join(dir, "enhance.db"))
	require.NoError(t, err)
	now := time.Now().UTC()
	require.NoError(t, db.CreateAccount(ctx,
		store.Account{ID: "a1", Email: "ann@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	require.NoError(t, db.Close())

	ctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		env := func(k string) string {
			if k == "ENHANCE_DATA_DIR" {
				return dir
			}
			return ""
		}
		code := run(ctx, args, env, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := ctl("admin", "usage", "--email", "ann@example.com")
	require.Equal(t, 0, code)
	require.Contains(t, out, "plan free")
	require.Contains(t, out, "granted 50, used 0, remaining 50")

	code, out, _ = ctl("admin", "set-plan", "--email", "ANN@example.com", "--plan", "pro")
	require.Equal(t, 0, code)
	require.Contains(t, out, "pro plan")
	code, out, _ = ctl("admin", "grant", "--email", "ann@example.com", "--credits", "25", "--reason", "support #12")
	require.Equal(t, 0, code)
	require.Contains(t, out, "granted 5025, used 0, remaining 5025")

	for _, bad := range [][]string{
		{},
		{"admin"},
		{"admin", "set-plan", "--email", "ann@example.com", "--plan", "platinum"},
		{"admin", "grant", "--email", "ann@example.com", "--credits", "-3", "--reason", "x"},
		{"admin", "grant", "--email", "ann@example.com", "--credits", "3"},
		{"admin", "usage"},
		{"admin", "explode", "--email", "ann@example.com"},
	} {
		code, _, errOut := ctl(bad...)
		require.Equal(t, 2, code, "%v", bad)
		require.NotEmpty(t, errOut)
	}
	code, _, errOut := ctl("admin", "usage", "--email", "nobody@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no account")
	code, _, errOut = ctl("admin", "usage", "--email", "ann@example.com", "--data-dir", filepath.Join(dir, "missing"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no database")
}
