package auth_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

// clock is a settable time source shared by a test and the code it drives.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	db    *storesqlite.Store
	codec *auth.Codec
	clock *clock
	v     *auth.Verifier
}

func newFixture(t testing.TB) *fixture {
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	c := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	v, err := auth.NewVerifier(db, codec, c.Now)
	require.NoError(t, err)
	return &fixture{db: db, codec: codec, clock: c, v: v}
}

// key stores a new account holding one key and returns the key.
func (f *fixture) key(t testing.TB, email string, expire, revoke time.Time) auth.Token {
	k, err := f.codec.New(auth.APIKey)
	require.NoError(t, err)
	now := f.clock.Now()
	acct := store.Account{ID: email, Email: email, PasswordHash: "x", CreateTime: now}
	require.NoError(t, f.db.CreateAccount(context.Background(), acct, store.APIKey{
		ID: k.ID, AccountID: acct.ID, DisplayName: "k", SecretHash: k.SecretHash(),
		Scopes: []string{auth.ScopeImagesEnhance}, CreateTime: now, ExpireTime: expire, RevokeTime: revoke,
	}))
	return k
}

func TestVerifyKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	now := f.clock.Now()
	good := f.key(t, "good@example.com", time.Time{}, time.Time{})
	expired := f.key(t, "expired@example.com", now.Add(-time.Second), time.Time{})
	revoked := f.key(t, "revoked@example.com", time.Time{}, now.Add(-time.Minute))
	later := f.key(t, "later@example.com", now.Add(time.Hour), time.Time{})
	unknown, err := f.codec.New(auth.APIKey)
	require.NoError(t, err)
	wrongSecret := auth.Token{Kind: auth.APIKey, ID: good.ID, Secret: unknown.Secret}

	p, err := f.v.VerifyKey(ctx, f.codec.Format(good))
	require.NoError(t, err)
	require.Equal(t, "good@example.com", p.AccountID)
	require.True(t, p.Has(auth.ScopeImagesEnhance))
	require.False(t, p.Has(auth.ScopeKeysManage))
	_, err = f.v.VerifyKey(ctx, f.codec.Format(later))
	require.NoError(t, err)

	for name, raw := range map[string]string{
		"empty":        "",
		"garbage":      "hello",
		"expired":      f.codec.Format(expired),
		"revoked":      f.codec.Format(revoked),
		"unknown id":   f.codec.Format(unknown),
		"wrong secret": f.codec.Format(wrongSecret),
	} {
		_, err := f.v.VerifyKey(ctx, raw)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
	}

	// A cached key still expires on time.
	f.clock.Advance(time.Hour)
	_, err = f.v.VerifyKey(ctx, f.codec.Format(later))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "expiry is exact even from the cache")
}

func TestRevocationReachesTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	k := f.key(t, "a@example.com", time.Time{}, time.Time{})
	raw := f.codec.Format(k)
	_, err := f.v.VerifyKey(ctx, raw)
	require.NoError(t, err)

	revoke := func(rec *store.APIKey) error { rec.RevokeTime = f.clock.Now(); return nil }
	_, err = f.db.UpdateAPIKey(ctx, "a@example.com", k.ID, revoke, store.AuditEvent{AccountID: "a@example.com", Time: f.clock.Now(), Kind: "key.revoked"})
	require.NoError(t, err)
	// Another instance (here: a second verifier on the same database)
	// keeps its cached answer for at most CacheTTL.
	other, err := auth.NewVerifier(f.db, f.codec, f.clock.Now)
	require.NoError(t, err)
	_, err = f.v.VerifyKey(ctx, raw)
	require.NoError(t, err, "still cached: nobody told this instance")
	f.clock.Advance(auth.CacheTTL)
	_, err = f.v.VerifyKey(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "the cache entry lapsed within the TTL")
	_, err = other.VerifyKey(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestForgetDropsTheCacheAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	k := f.key(t, "a@example.com", time.Time{}, time.Time{})
	raw := f.codec.Format(k)
	_, err := f.v.VerifyKey(ctx, raw)
	require.NoError(t, err)
	_, err = f.db.UpdateAPIKey(ctx, "a@example.com", k.ID, func(rec *store.APIKey) error { rec.RevokeTime = f.clock.Now(); return nil },
		store.AuditEvent{AccountID: "a@example.com", Time: f.clock.Now(), Kind: "key.revoked"})
	require.NoError(t, err)
	f.v.Forget(k.ID)
	_, err = f.v.VerifyKey(ctx, raw)
	require.ErrorIs(t, err, auth.ErrUnauthenticated)
}

func TestRotationGracePeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	old := f.key(t, "a@example.com", time.Time{}, time.Time{})
	fresh := auth.Token{Kind: auth.APIKey, ID: old.ID, Secret: "N" + old.Secret[1:]}
	if fresh.Secret == old.Secret {
		fresh.Secret = "M" + old.Secret[1:]
	}
	_, err := f.v.VerifyKey(ctx, f.codec.Format(old))
	require.NoError(t, err)
	_, err = f.db.UpdateAPIKey(ctx, "a@example.com", old.ID, func(rec *store.APIKey) error {
		rec.PreviousSecretHash, rec.PreviousExpireTime = rec.SecretHash, f.clock.Now().Add(time.Minute)
		rec.SecretHash = fresh.SecretHash()
		return nil
	}, store.AuditEvent{AccountID: "a@example.com", Time: f.clock.Now(), Kind: "key.rotated"})
	require.NoError(t, err)
	f.v.Forget(old.ID)
	_, err = f.v.VerifyKey(ctx, f.codec.Format(old))
	require.NoError(t, err, "the old secret works during the grace period")
	_, err = f.v.VerifyKey(ctx, f.codec.Format(fresh))
	require.NoError(t, err)
	f.clock.Advance(time.Minute)
	_, err = f.v.VerifyKey(ctx, f.codec.Format(old))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "and stops exactly at its end, cached or not")
	_, err = f.v.VerifyKey(ctx, f.codec.Format(fresh))
	require.NoError(t, err)
}

func TestLastUseIsWrittenInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	k := f.key(t, "a@example.com", time.Time{}, time.Time{})
	for range 3 {
		_, err := f.v.VerifyKey(ctx, f.codec.Format(k))
		require.NoError(t, err)
		f.clock.Advance(time.Second)
	}
	rec, err := f.db.APIKey(ctx, k.ID)
	require.NoError(t, err)
	require.True(t, rec.LastUseTime.IsZero(), "verifying writes nothing")
	require.NoError(t, f.v.FlushLastUse(ctx))
	rec, err = f.db.APIKey(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, f.clock.Now().Add(-time.Second), rec.LastUseTime)
}

func TestVerifySession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.key(t, "a@example.com", time.Time{}, time.Time{})
	tok, err := f.codec.New(auth.Session)
	require.NoError(t, err)
	now := f.clock.Now()
	require.NoError(t, f.db.CreateSession(ctx, store.Session{ID: tok.ID, AccountID: "a@example.com", SecretHash: tok.SecretHash(), CreateTime: now, ExpireTime: now.Add(time.Hour)},
		store.AuditEvent{AccountID: "a@example.com", Time: now, Kind: "session.created"}))
	p, err := f.v.VerifySession(ctx, f.codec.Format(tok))
	require.NoError(t, err)
	require.Equal(t, tok.ID, p.SessionID)
	require.Empty(t, p.KeyID)
	require.True(t, p.Has(auth.ScopeKeysManage))
	require.False(t, p.Has(auth.ScopeImagesEnhance), "image calls need an API key")
	_, err = f.v.VerifyKey(ctx, f.codec.Format(tok))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a session token is not an API key")
	f.clock.Advance(time.Hour)
	_, err = f.v.VerifySession(ctx, f.codec.Format(tok))
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "expired")
}

// BenchmarkVerifyKeyCached is the auth interceptor's cost on a cache hit
// (the target is under 20 µs).
func BenchmarkVerifyKeyCached(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	k := f.key(b, "a@example.com", time.Time{}, time.Time{})
	raw := f.codec.Format(k)
	_, err := f.v.VerifyKey(ctx, raw)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.v.VerifyKey(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyKeyUncached is the cost when the cache misses: a checksum,
// a SQLite read and a hash comparison.
func BenchmarkVerifyKeyUncached(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	k := f.key(b, "a@example.com", time.Time{}, time.Time{})
	raw := f.codec.Format(k)
	b.ReportAllocs()
	for b.Loop() {
		f.v.Forget(k.ID)
		if _, err := f.v.VerifyKey(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
