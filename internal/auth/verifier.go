package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// CacheTTL bounds how long a verified key is trusted without reading the
// database again. Revocation and rotation on this instance drop the entry
// at once (Forget); other instances sharing the database see them within
// CacheTTL, which keeps under the promised five seconds.
const CacheTTL = 4 * time.Second

// maxCached bounds the cache; when full it is emptied, which costs one
// database read per key and nothing else.
const maxCached = 100_000

// Store is the part of the database verification reads: keys, sessions,
// and the accounts they belong to.
type Store interface {
	store.Keys
	store.Sessions
	store.Accounts
}

// Verifier checks presented API keys and session tokens against the store.
type Verifier struct {
	store Store
	codec *Codec
	now   func() time.Time

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]cachedKey

	usedMu sync.Mutex
	used   map[string]time.Time
}

type cachedKey struct {
	principal Principal
	until     time.Time
}

// NewVerifier returns a Verifier reading credentials from s and checking
// checksums with c; now is the clock (time.Now when nil).
func NewVerifier(s Store, c *Codec, now func() time.Time) (*Verifier, error) {
	if s == nil || c == nil {
		return nil, errors.New("auth: verifier needs a store and a codec")
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{store: s, codec: c, now: now, cache: map[[sha256.Size]byte]cachedKey{}, used: map[string]time.Time{}}, nil
}

// VerifyKey returns the principal that the API key raw authenticates.
// Every failure wraps ErrUnauthenticated, with the reason in the message
// for the log; a storage failure is returned as it is, so that it becomes
// a 500 rather than a 401.
func (v *Verifier) VerifyKey(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, refused(ReasonNoKey, "no key")
	}
	now := v.now()
	digest := sha256.Sum256([]byte(raw))
	v.mu.RLock()
	hit, ok := v.cache[digest]
	v.mu.RUnlock()
	if ok && now.Before(hit.until) {
		v.markUsed(hit.principal.KeyID, now)
		return hit.principal, nil
	}
	key, err := v.codec.Parse(APIKey, raw)
	if err != nil {
		return Principal{}, err
	}
	rec, err := v.store.APIKey(ctx, key.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, refused(ReasonUnknownKey, "unknown key id")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: look up key: %w", err)
	}
	until := now.Add(CacheTTL)
	presented := key.SecretHash()
	switch {
	case subtle.ConstantTimeCompare(rec.SecretHash, presented) == 1:
	case rec.PreviousSecretHash != nil && subtle.ConstantTimeCompare(rec.PreviousSecretHash, presented) == 1:
		if !now.Before(rec.PreviousExpireTime) {
			return Principal{}, refused(ReasonExpired, "rotated key past its grace period")
		}
		until = earliest(until, rec.PreviousExpireTime)
	default:
		return Principal{}, refused(ReasonWrongSecret, "wrong secret")
	}
	if !rec.RevokeTime.IsZero() && !now.Before(rec.RevokeTime) {
		return Principal{}, refused(ReasonRevoked, "key revoked")
	}
	if !rec.ExpireTime.IsZero() {
		if !now.Before(rec.ExpireTime) {
			return Principal{}, refused(ReasonExpired, "key expired")
		}
		until = earliest(until, rec.ExpireTime)
	}
	acct, err := v.store.Account(ctx, rec.AccountID)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: look up the key's account: %w", err)
	}
	p := Principal{AccountID: rec.AccountID, KeyID: rec.ID, Scopes: rec.Scopes, Plan: acct.Plan}
	v.mu.Lock()
	if len(v.cache) >= maxCached {
		clear(v.cache)
	}
	v.cache[digest] = cachedKey{principal: p, until: until}
	v.mu.Unlock()
	v.markUsed(rec.ID, now)
	return p, nil
}

// Forget drops every cached verification of key id, so that a revocation
// or rotation made here takes effect on the next request.
func (v *Verifier) Forget(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for digest, c := range v.cache {
		if c.principal.KeyID == id {
			delete(v.cache, digest)
		}
	}
}

// VerifySession returns the principal of a session token. Sessions are
// read from the database every time: they serve the dashboard, not image
// traffic, and signing out must end them everywhere at once.
func (v *Verifier) VerifySession(ctx context.Context, raw string) (Principal, error) {
	tok, err := v.codec.Parse(Session, raw)
	if err != nil {
		return Principal{}, err
	}
	ses, err := v.store.Session(ctx, tok.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, refused(ReasonUnknownKey, "unknown session")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("auth: look up session: %w", err)
	}
	if subtle.ConstantTimeCompare(ses.SecretHash, tok.SecretHash()) != 1 {
		return Principal{}, refused(ReasonWrongSecret, "wrong session secret")
	}
	if !v.now().Before(ses.ExpireTime) {
		return Principal{}, refused(ReasonExpired, "session expired")
	}
	return Principal{AccountID: ses.AccountID, SessionID: ses.ID, Scopes: SessionScopes}, nil
}

func (v *Verifier) markUsed(id string, at time.Time) {
	v.usedMu.Lock()
	v.used[id] = at
	v.usedMu.Unlock()
}

// FlushLastUse writes the last-use times gathered since the previous
// flush in one database write, so that authenticating a request never
// writes.
func (v *Verifier) FlushLastUse(ctx context.Context) error {
	v.usedMu.Lock()
	batch := v.used
	v.used = map[string]time.Time{}
	v.usedMu.Unlock()
	return v.store.TouchAPIKeys(ctx, batch)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
