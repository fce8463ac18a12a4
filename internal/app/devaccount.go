package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/smartimage/enhance/internal/account"
)

// devEmail is the development account's sign-in name.
const devEmail = "dev@localhost"

// ensureDevAccount creates, on an empty database only, a development
// account and writes its key to <data-dir>/dev-api-key (mode 0600), so
// examples can read it. The password is random and never shown: the
// account is for trying the API, not for signing in.
func (a *App) ensureDevAccount(ctx context.Context) error {
	n, err := a.store.AccountCount(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	r, err := a.accounts.Register(ctx, devEmail, rand.Text(), "")
	if errors.Is(err, account.ErrEmailTaken) {
		// Another instance on the same database made it first.
		return nil
	}
	if err != nil {
		return fmt.Errorf("app: development account: %w", err)
	}
	a.devKey = r.Secret
	path := filepath.Join(a.cfg.DataDir, DevKeyFile)
	if err := os.WriteFile(path, []byte(a.devKey+"\n"), 0o600); err != nil {
		return fmt.Errorf("app: write %s: %w", path, err)
	}
	return nil
}
