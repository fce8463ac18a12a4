// Package apikeys is the key management an account owner does from the
// dashboard or with a keys:manage key: create, list, get, rename, rotate
// and revoke, each recorded in the audit log in the same transaction.
// Every operation is confined to the caller's own account: another
// account's key is simply not found.
package apikeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
)

// Limits on what a caller may ask for.
const (
	MaxKeysPerAccount = 100
	MaxDisplayName    = 100
	MaxGracePeriod    = 7 * 24 * time.Hour
)

// Audit event kinds written by this package.
const (
	EventCreated = "key.created"
	EventRenamed = "key.renamed"
	EventRotated = "key.rotated"
	EventRevoked = "key.revoked"
)

// Errors whose messages are safe to show.
var (
	ErrInvalid  = errors.New("invalid key request")
	ErrNotFound = errors.New("API key not found")
	ErrTooMany  = fmt.Errorf("an account may hold at most %d API keys: revoke one first", MaxKeysPerAccount)
)

// Forgetter drops cached verifications of a key (auth.Verifier).
type Forgetter interface{ Forget(keyID string) }

// Manager manages keys.
type Manager struct {
	store store.Keys
	codec *auth.Codec
	cache Forgetter
	now   func() time.Time
}

// New returns a Manager; now is the clock (time.Now when nil).
func New(s store.Keys, c *auth.Codec, cache Forgetter, now func() time.Time) (*Manager, error) {
	if s == nil || c == nil || cache == nil {
		return nil, errors.New("apikeys: needs a store, a codec and a cache")
	}
	if now == nil {
		now = time.Now
	}
	return &Manager{store: s, codec: c, cache: cache, now: now}, nil
}

// Spec is what a caller asks of a new key.
type Spec struct {
	DisplayName string
	Scopes      []string
	// ExpireTime is zero for a key that never expires.
	ExpireTime time.Time
}

// Created is a new or rotated key with its secret, shown this once.
type Created struct {
	Key    store.APIKey
	Secret string
}

// Create makes a key for the caller's account. A key may grant only
// scopes its creator holds, so a keys:manage key cannot mint itself more
// power; a session holds every scope for this purpose.
func (m *Manager) Create(ctx context.Context, p auth.Principal, spec Spec, client string) (Created, error) {
	name, err := validName(spec.DisplayName)
	if err != nil {
		return Created{}, err
	}
	scopes, err := m.validScopes(p, spec.Scopes)
	if err != nil {
		return Created{}, err
	}
	now := m.now().UTC().Truncate(time.Microsecond)
	if !spec.ExpireTime.IsZero() && !spec.ExpireTime.After(now) {
		return Created{}, fmt.Errorf("%w: expireTime must be in the future", ErrInvalid)
	}
	tok, err := m.codec.New(auth.APIKey)
	if err != nil {
		return Created{}, err
	}
	key := store.APIKey{
		ID: tok.ID, AccountID: p.AccountID, DisplayName: name, SecretHash: tok.SecretHash(),
		Scopes: scopes, CreateTime: now, ExpireTime: spec.ExpireTime.UTC().Truncate(time.Microsecond),
	}
	err = m.store.CreateAPIKey(ctx, key, m.event(p, EventCreated, key.ID, client, ""), MaxKeysPerAccount)
	if errors.Is(err, store.ErrLimit) {
		return Created{}, ErrTooMany
	}
	if err != nil {
		return Created{}, err
	}
	return Created{Key: key, Secret: m.codec.Format(tok)}, nil
}

// List returns the caller's live keys, oldest first.
func (m *Manager) List(ctx context.Context, p auth.Principal) ([]store.APIKey, error) {
	return m.store.APIKeys(ctx, p.AccountID)
}

// Get returns one of the caller's live keys.
func (m *Manager) Get(ctx context.Context, p auth.Principal, id string) (store.APIKey, error) {
	k, err := m.store.APIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (k.AccountID != p.AccountID || !k.RevokeTime.IsZero()) {
		return store.APIKey{}, notFound(id)
	}
	return k, err
}

// Rename changes a key's display name.
func (m *Manager) Rename(ctx context.Context, p auth.Principal, id, displayName, client string) (store.APIKey, error) {
	name, err := validName(displayName)
	if err != nil {
		return store.APIKey{}, err
	}
	return m.update(ctx, p, id, func(k *store.APIKey) error {
		k.DisplayName = name
		return nil
	}, m.event(p, EventRenamed, id, client, ""))
}

// Rotate gives a key a new secret. The old secret keeps working for
// grace (0 to 7 days) and then stops; a secret replaced by an earlier
// rotation stops at once.
func (m *Manager) Rotate(ctx context.Context, p auth.Principal, id string, grace time.Duration, client string) (Created, error) {
	if grace < 0 || grace > MaxGracePeriod {
		return Created{}, fmt.Errorf("%w: gracePeriod must be between 0s and %ds (7 days)", ErrInvalid, int(MaxGracePeriod.Seconds()))
	}
	tok, err := m.codec.New(auth.APIKey)
	if err != nil {
		return Created{}, err
	}
	tok.ID = id
	now := m.now().UTC().Truncate(time.Microsecond)
	k, err := m.update(ctx, p, id, func(k *store.APIKey) error {
		k.PreviousSecretHash, k.PreviousExpireTime = nil, time.Time{}
		if grace > 0 {
			k.PreviousSecretHash, k.PreviousExpireTime = k.SecretHash, now.Add(grace)
		}
		k.SecretHash = tok.SecretHash()
		return nil
	}, m.event(p, EventRotated, id, client, "grace period "+grace.String()))
	if err != nil {
		return Created{}, err
	}
	return Created{Key: k, Secret: m.codec.Format(tok)}, nil
}

// Revoke stops a key at once.
func (m *Manager) Revoke(ctx context.Context, p auth.Principal, id, client string) error {
	now := m.now().UTC().Truncate(time.Microsecond)
	_, err := m.update(ctx, p, id, func(k *store.APIKey) error {
		k.RevokeTime = now
		return nil
	}, m.event(p, EventRevoked, id, client, ""))
	return err
}

func (m *Manager) update(ctx context.Context, p auth.Principal, id string, fn store.KeyUpdate, event store.AuditEvent) (store.APIKey, error) {
	k, err := m.store.UpdateAPIKey(ctx, p.AccountID, id, fn, event)
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, notFound(id)
	}
	if err != nil {
		return store.APIKey{}, err
	}
	m.cache.Forget(id)
	return k, nil
}

func (m *Manager) event(p auth.Principal, kind, keyID, client, reason string) store.AuditEvent {
	by := "session"
	if p.KeyID != "" {
		by = "key " + p.KeyID
	}
	if reason != "" {
		reason += "; "
	}
	return store.AuditEvent{
		AccountID: p.AccountID, Time: m.now().UTC(), Kind: kind, KeyID: keyID,
		ClientAddress: client, Reason: reason + "by " + by,
	}
}

func (m *Manager) validScopes(p auth.Principal, scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: scopes must name at least one of %s", ErrInvalid, strings.Join(auth.AllScopes, ", "))
	}
	var out []string
	for _, s := range scopes {
		if !slices.Contains(auth.AllScopes, s) {
			return nil, fmt.Errorf("%w: unknown scope %q (known: %s)", ErrInvalid, s, strings.Join(auth.AllScopes, ", "))
		}
		if p.KeyID != "" && !p.Has(s) {
			return nil, fmt.Errorf("%w: a key can grant only scopes it holds itself; this one lacks %s", ErrInvalid, s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func validName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: displayName is required", ErrInvalid)
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxDisplayName:
		return "", fmt.Errorf("%w: displayName must be valid text of at most %d characters", ErrInvalid, MaxDisplayName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: displayName must not contain control characters", ErrInvalid)
	}
	return name, nil
}

func notFound(id string) error {
	return fmt.Errorf("%w: keys/%s", ErrNotFound, id)
}
