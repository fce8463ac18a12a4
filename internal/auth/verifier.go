package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// Verifier checks presented API keys against the store.
type Verifier struct {
	keys store.Store
	now  func() time.Time
}

// NewVerifier returns a Verifier reading keys from s; now is the clock
// (time.Now when nil).
func NewVerifier(s store.Store, now func() time.Time) (*Verifier, error) {
	if s == nil {
		return nil, errors.New("auth: nil store")
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: s, now: now}, nil
}

// Verify returns the principal that raw authenticates. Every failure wraps
// ErrUnauthenticated, with the reason in the message for the log; a storage
// failure is returned as it is, so that it becomes a 500 rather than a 401.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, fmt.Errorf("%w: no key", ErrUnauthenticated)
	}
	key, err := ParseKey(raw)
	if err != nil {
		return Principal{}, err
	}
	rec, err := v.keys.APIKey(ctx, key.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown key id", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: look up key: %w", err)
	}
	if subtle.ConstantTimeCompare(rec.SecretHash, key.SecretHash()) != 1 {
		return Principal{}, fmt.Errorf("%w: wrong secret", ErrUnauthenticated)
	}
	now := v.now()
	if !rec.RevokeTime.IsZero() && !now.Before(rec.RevokeTime) {
		return Principal{}, fmt.Errorf("%w: key revoked", ErrUnauthenticated)
	}
	if !rec.ExpireTime.IsZero() && !now.Before(rec.ExpireTime) {
		return Principal{}, fmt.Errorf("%w: key expired", ErrUnauthenticated)
	}
	return Principal{AccountID: rec.AccountID, KeyID: rec.ID, Scopes: rec.Scopes}, nil
}
