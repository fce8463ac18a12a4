// Package account registers customers: it validates credentials, hashes the
// password and issues the first API key, storing both in one transaction.
package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
)

// ErrInvalid wraps a registration rejected for its input; the message is
// safe to show.
var ErrInvalid = errors.New("invalid registration")

// ErrEmailTaken means the email is already registered.
var ErrEmailTaken = errors.New("an account with this email already exists")

// Registrar creates accounts.
type Registrar struct {
	store store.Store
	now   func() time.Time
}

// NewRegistrar returns a Registrar writing to s; now is the clock.
func NewRegistrar(s store.Store, now func() time.Time) (*Registrar, error) {
	if s == nil {
		return nil, errors.New("account: nil store")
	}
	if now == nil {
		now = time.Now
	}
	return &Registrar{store: s, now: now}, nil
}

// Registered is a new account with its first key; Key holds the secret,
// which exists nowhere else.
type Registered struct {
	Account store.Account
	KeyInfo store.APIKey
	Key     auth.Key
}

// Register validates email and password and creates the account with a
// first key named "default" holding auth.DefaultScopes.
func (r *Registrar) Register(ctx context.Context, email, password string) (Registered, error) {
	email = strings.TrimSpace(email)
	if err := validateEmail(email); err != nil {
		return Registered{}, err
	}
	if n := len(password); n < auth.MinPasswordLen || n > auth.MaxPasswordLen {
		return Registered{}, fmt.Errorf("%w: password must be %d to %d characters", ErrInvalid, auth.MinPasswordLen, auth.MaxPasswordLen)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return Registered{}, err
	}
	key, err := auth.NewKey()
	if err != nil {
		return Registered{}, err
	}
	now := r.now().UTC().Truncate(time.Microsecond)
	acct := store.Account{ID: newID(), Email: email, PasswordHash: hash, CreateTime: now}
	info := store.APIKey{
		ID:          key.ID,
		AccountID:   acct.ID,
		DisplayName: "default",
		SecretHash:  key.SecretHash(),
		Scopes:      auth.DefaultScopes,
		CreateTime:  now,
	}
	if err := r.store.CreateAccount(ctx, acct, info); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Registered{}, ErrEmailTaken
		}
		return Registered{}, err
	}
	return Registered{Account: acct, KeyInfo: info, Key: key}, nil
}

func validateEmail(email string) error {
	if email == "" {
		return fmt.Errorf("%w: email is required", ErrInvalid)
	}
	if len(email) > 254 {
		return fmt.Errorf("%w: email is longer than 254 characters", ErrInvalid)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") && !strings.HasSuffix(email, "@localhost") {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	return nil
}

// newID returns a random account id: 130 bits in lowercase base32.
func newID() string {
	return strings.ToLower(rand.Text())
}
