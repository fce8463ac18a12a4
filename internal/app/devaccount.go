package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/auth"
)

// DevEmail is the development account's sign-in name.
const DevEmail = "dev@localhost"

// ensureDevAccount creates, on an empty database only, a development
// account whose key may do everything, key management included, and
// writes the key to <data-dir>/dev-api-key and its random password to
// <data-dir>/dev-password (both mode 0600), so that a new user can sign
// in and try every route, and examples can read them.
func (a *App) ensureDevAccount(ctx context.Context) error {
	n, err := a.store.AccountCount(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	password := rand.Text()
	// The password is written before the account exists, and removed if
	// the account is not made: an account whose password was lost could
	// never be signed in to, and a file whose password opens nothing
	// would mislead.
	passwordFile := filepath.Join(a.cfg.DataDir, DevPasswordFile)
	if err := writeSecret(passwordFile, password); err != nil {
		return err
	}
	r, err := a.accounts.RegisterWithScopes(ctx, DevEmail, password, "", auth.AllScopes)
	if err != nil {
		os.Remove(passwordFile)
	}
	if errors.Is(err, account.ErrEmailTaken) {
		// Another instance on the same database made it first.
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: development account: %w", err)
	}
	a.devKey, a.devPassword = r.Secret, password
	return writeSecret(filepath.Join(a.cfg.DataDir, DevKeyFile), a.devKey)
}

// writeSecret writes one line that only this user may read.
func writeSecret(path, secret string) error {
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("app: write %s: %w", path, err)
	}
	return nil
}
