package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storepostgres"
	"github.com/smartimage/enhance/internal/store/storepostgres/postgrestest"
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
		{"admin", "explode"},
		{"admin", "grant", "--credits", "3", "--reason", "x"},
		{"admin", "reconcile", "--bogus"},
	} {
		code, _, errOut := ctl(bad...)
		require.Equal(t, 2, code, "%v", bad)
		require.NotEmpty(t, errOut)
	}
	code, out, _ = ctl("admin", "reconcile")
	require.Equal(t, 0, code, "no --email needed")
	require.Equal(t, "every credit counter adds up to its ledger\n", out)

	// A counter changed behind the ledger's back is found, with its
	// account, and the status says so.
	raw, err := sql.Open("sqlite", filepath.Join(dir, "enhance.db"))
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE balances SET charged = charged + 3 WHERE account_id = 'a1'`)
	require.NoError(t, err)
	require.NoError(t, raw.Close())
	code, out, _ = ctl("admin", "reconcile")
	require.Equal(t, 1, code)
	period := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	require.Equal(t, "ann@example.com (a1), period "+period+": counter charged 3, refunded 0, granted 25; ledger charged 0, refunded 0, granted 25\n"+
		"1 period(s) of 1 account(s) do not add up: the ledger is the record, the counter is what balances are read from\n", out)
	code, _, errOut := ctl("admin", "reconcile", "--data-dir", filepath.Join(dir, "missing"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no database")

	code, _, errOut = ctl("admin", "usage", "--email", "nobody@example.com")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no account")
	code, _, errOut = ctl("admin", "usage", "--email", "ann@example.com", "--data-dir", filepath.Join(dir, "missing"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no database")
}

// TestAdminCommandsOnPostgreSQL: --database-url (or its twin) points the
// same commands at the PostgreSQL that several servers share.
func TestAdminCommandsOnPostgreSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := postgrestest.Schema(t, nil)
	db, err := storepostgres.Open(ctx, url)
	require.NoError(t, err)
	now := time.Now().UTC()
	require.NoError(t, db.CreateAccount(ctx,
		store.Account{ID: "a1", Email: "ann@example.com", PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
	require.NoError(t, db.Close())

	ctl := func(env map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := ctl(nil, "admin", "grant", "--database-url", url, "--email", "ann@example.com", "--credits", "7", "--reason", "support #13")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "granted 57, used 0, remaining 57")
	code, out, errOut = ctl(map[string]string{"ENHANCE_DATABASE_URL": url}, "admin", "reconcile")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "every credit counter adds up to its ledger\n", out)
}
