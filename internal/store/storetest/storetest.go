// Package storetest is the conformance suite every store.Store
// implementation must pass, run against each real database, and the
// benchmark they all run (BenchmarkLedger).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// Run runs the suite; open returns a new, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("CreateAccountAndReadKey", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
		acct := store.Account{ID: "a1", Email: "Ann@Example.com", PasswordHash: "$argon2id$x", CreateTime: now}
		key := store.APIKey{
			ID: "k1", AccountID: "a1", DisplayName: "default", SecretHash: []byte{1, 2, 3},
			Scopes: []string{"images:enhance", "usage:read"}, CreateTime: now, ExpireTime: now.Add(time.Hour),
		}
		require.NoError(t, s.CreateAccount(ctx, acct, key))
		got, err := s.APIKey(ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, key, got)
		n, err := s.AccountCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		_, err = s.APIKey(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("DuplicateEmailWritesNothing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		require.NoError(t, s.CreateAccount(ctx,
			store.Account{ID: "a1", Email: "bob@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
		err := s.CreateAccount(ctx,
			store.Account{ID: "a2", Email: "BOB@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k2", AccountID: "a2", SecretHash: []byte{2}, CreateTime: now})
		require.ErrorIs(t, err, store.ErrConflict, "emails are unique whatever their case")
		_, err = s.APIKey(ctx, "k2")
		require.ErrorIs(t, err, store.ErrNotFound, "no key is half-written")
		n, err := s.AccountCount(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
	t.Run("KeyLifecycle", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		seedAccount(t, s, "a2", "b@example.com", "k2", now)
		ev := store.AuditEvent{AccountID: "a1", Time: now, Kind: "key.created", KeyID: "k3", ClientAddress: "192.0.2.1"}
		k3 := store.APIKey{ID: "k3", AccountID: "a1", DisplayName: "ci", SecretHash: []byte{3}, Scopes: []string{"images:upscale"}, CreateTime: now.Add(time.Second)}
		require.NoError(t, s.CreateAPIKey(ctx, k3, ev, 2))
		err := s.CreateAPIKey(ctx, store.APIKey{ID: "k4", AccountID: "a1", SecretHash: []byte{4}, CreateTime: now}, ev, 2)
		require.ErrorIs(t, err, store.ErrLimit)
		_, err = s.APIKey(ctx, "k4")
		require.ErrorIs(t, err, store.ErrNotFound, "a refused key is not written")

		keys, err := s.APIKeys(ctx, "a1")
		require.NoError(t, err)
		require.Len(t, keys, 2)
		require.Equal(t, []string{"k1", "k3"}, []string{keys[0].ID, keys[1].ID})

		// Another account's key is not found, and nothing changes.
		_, err = s.UpdateAPIKey(ctx, "a2", "k3", func(k *store.APIKey) error { k.DisplayName = "stolen"; return nil }, ev)
		require.ErrorIs(t, err, store.ErrNotFound)
		// An update that fails leaves the key and the audit log as they were.
		_, err = s.UpdateAPIKey(ctx, "a1", "k3", func(k *store.APIKey) error { k.DisplayName = "x"; return errors.New("no") }, ev)
		require.Error(t, err)
		got, err := s.APIKey(ctx, "k3")
		require.NoError(t, err)
		require.Equal(t, "ci", got.DisplayName)

		rotated, err := s.UpdateAPIKey(ctx, "a1", "k3", func(k *store.APIKey) error {
			k.PreviousSecretHash, k.PreviousExpireTime = k.SecretHash, now.Add(time.Hour)
			k.SecretHash = []byte{33}
			return nil
		}, store.AuditEvent{AccountID: "a1", Time: now, Kind: "key.rotated", KeyID: "k3"})
		require.NoError(t, err)
		got, err = s.APIKey(ctx, "k3")
		require.NoError(t, err)
		require.Equal(t, rotated, got)
		require.Equal(t, []byte{3}, got.PreviousSecretHash)

		require.NoError(t, s.TouchAPIKeys(ctx, map[string]time.Time{"k3": now.Add(time.Minute), "gone": now}))
		require.NoError(t, s.TouchAPIKeys(ctx, map[string]time.Time{"k3": now}), "an older time never wins")
		got, err = s.APIKey(ctx, "k3")
		require.NoError(t, err)
		require.Equal(t, now.Add(time.Minute), got.LastUseTime)

		_, err = s.UpdateAPIKey(ctx, "a1", "k3", func(k *store.APIKey) error { k.RevokeTime = now; return nil },
			store.AuditEvent{AccountID: "a1", Time: now, Kind: "key.revoked", KeyID: "k3"})
		require.NoError(t, err)
		keys, err = s.APIKeys(ctx, "a1")
		require.NoError(t, err)
		require.Len(t, keys, 1, "revoked keys are not listed")
		_, err = s.UpdateAPIKey(ctx, "a1", "k3", func(*store.APIKey) error { return nil }, ev)
		require.ErrorIs(t, err, store.ErrNotFound, "a revoked key cannot be changed")

		events, err := s.AuditEvents(ctx, "a1", 0, 10)
		require.NoError(t, err)
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		require.Equal(t, []string{"key.revoked", "key.rotated", "key.created"}, kinds, "newest first, failed updates absent")
		page, err := s.AuditEvents(ctx, "a1", events[0].ID, 1)
		require.NoError(t, err)
		require.Equal(t, events[1], page[0])
	})
	t.Run("EmailKeys", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		seedAccount(t, s, "old1", "\u00c9LODIE@example.com", "k1", now)
		seedAccount(t, s, "old2", "zo\u00eb@example.com", "k2", now)
		legacy, err := s.AccountsWithoutEmailKey(ctx)
		require.NoError(t, err)
		require.Len(t, legacy, 2)
		require.NoError(t, s.SetEmailKey(ctx, "old1", "\u00e9lodie@example.com"))
		require.NoError(t, s.SetEmailKey(ctx, "old2", "zo\u00eb@example.com\x00old2"))
		a, err := s.AccountByEmailKey(ctx, "\u00e9lodie@example.com")
		require.NoError(t, err)
		require.Equal(t, "old1", a.ID)
		_, err = s.AccountByEmailKey(ctx, "zo\u00eb@example.com")
		require.ErrorIs(t, err, store.ErrNotFound, "a collision's key is found by no email")
		for _, key := range []string{"\u00e9lodie@example.com", "zo\u00eb@example.com"} {
			err := s.CreateAccount(ctx, store.Account{ID: "new", Email: key, EmailKey: key, PasswordHash: "x", CreateTime: now},
				store.APIKey{ID: "knew", AccountID: "new", SecretHash: []byte{1}, CreateTime: now})
			require.ErrorIs(t, err, store.ErrConflict, key)
		}
		legacy, err = s.AccountsWithoutEmailKey(ctx)
		require.NoError(t, err)
		require.Empty(t, legacy)
	})

	t.Run("SessionsAndDeletion", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		a, err := s.AccountByEmail(ctx, "A@EXAMPLE.COM")
		require.NoError(t, err)
		require.Equal(t, "a1", a.ID)
		ses := store.Session{ID: "s1", AccountID: "a1", SecretHash: []byte{9}, CreateTime: now, ExpireTime: now.Add(time.Hour), ClientAddress: "192.0.2.7"}
		require.NoError(t, s.CreateSession(ctx, ses, store.AuditEvent{AccountID: "a1", Time: now, Kind: "session.created"}))
		got, err := s.Session(ctx, "s1")
		require.NoError(t, err)
		require.Equal(t, ses, got)
		// A later sign-in sweeps expired sessions.
		later := store.Session{ID: "s2", AccountID: "a1", SecretHash: []byte{8}, CreateTime: now.Add(2 * time.Hour), ExpireTime: now.Add(3 * time.Hour)}
		require.NoError(t, s.CreateSession(ctx, later, store.AuditEvent{AccountID: "a1", Time: now, Kind: "session.created"}))
		_, err = s.Session(ctx, "s1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.NoError(t, s.DeleteSession(ctx, "s2", store.AuditEvent{AccountID: "a1", Time: now, Kind: "session.deleted"}))
		require.ErrorIs(t, s.DeleteSession(ctx, "s2", store.AuditEvent{AccountID: "a1", Time: now, Kind: "x"}), store.ErrNotFound)

		require.NoError(t, s.RecordAudit(ctx, store.AuditEvent{Time: now, Kind: "auth.failed", ClientAddress: "198.51.100.1", Reason: "malformed key"}))
		require.NoError(t, s.CreateSession(ctx, store.Session{ID: "s3", AccountID: "a1", SecretHash: []byte{7}, CreateTime: now, ExpireTime: now.Add(time.Hour)},
			store.AuditEvent{AccountID: "a1", Time: now, Kind: "session.created"}))
		require.NoError(t, s.DeleteAccount(ctx, "a1"))
		_, err = s.Account(ctx, "a1")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.APIKey(ctx, "k1")
		require.ErrorIs(t, err, store.ErrNotFound, "keys go with the account")
		_, err = s.Session(ctx, "s3")
		require.ErrorIs(t, err, store.ErrNotFound, "sessions go with the account")
		events, err := s.AuditEvents(ctx, "a1", 0, 10)
		require.NoError(t, err)
		require.Empty(t, events)
		require.ErrorIs(t, s.DeleteAccount(ctx, "a1"), store.ErrNotFound)
	})
	t.Run("SecretIsCreatedOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		first, err := s.Secret(ctx, "checksum", func() ([]byte, error) { return []byte("one"), nil })
		require.NoError(t, err)
		second, err := s.Secret(ctx, "checksum", func() ([]byte, error) { return []byte("two"), nil })
		require.NoError(t, err)
		require.Equal(t, []byte("one"), first)
		require.Equal(t, first, second)
	})
	t.Run("CreditsNeverOverspendAndSettleOnce", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		grants := map[string]int{"free": 50, "pro": 1000}
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		charge := store.LedgerEntry{AccountID: "a1", KeyID: "k1", PeriodStart: nov, Amount: 1, Operation: "enhance", RequestID: "r", Time: now}

		// 200 concurrent reservations against 50 credits: exactly 50 win.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []store.LedgerEntry
		refused := 0
		for range 200 {
			wg.Go(func() {
				e, _, err := s.Reserve(ctx, charge, grants)
				mu.Lock()
				defer mu.Unlock()
				if errors.Is(err, store.ErrInsufficientCredits) {
					refused++
					return
				}
				require.NoError(t, err)
				won = append(won, e)
			})
		}
		wg.Wait()
		require.Len(t, won, 50)
		require.Equal(t, 150, refused)
		bal, err := s.Balance(ctx, "a1", nov, grants)
		require.NoError(t, err)
		require.Equal(t, store.Balance{Granted: 50, Used: 50}, bal)

		// Commit one, refund one; neither can be settled again. A commit
		// of a final charge succeeds, changing nothing: its caller may
		// not have heard that the first one landed.
		require.NoError(t, s.Settle(ctx, won[0].ID, true, now))
		require.NoError(t, s.Settle(ctx, won[1].ID, false, now))
		require.ErrorIs(t, s.Settle(ctx, won[0].ID, false, now), store.ErrNotFound)
		require.ErrorIs(t, s.Settle(ctx, won[1].ID, false, now), store.ErrNotFound)
		require.NoError(t, s.Settle(ctx, won[0].ID, true, now), "a commit again is a commit")
		require.ErrorIs(t, s.Settle(ctx, won[1].ID, true, now), store.ErrNotFound, "a refunded charge stays refunded")
		require.ErrorIs(t, s.Settle(ctx, 1<<40, true, now), store.ErrNotFound, "no such charge")
		bal, err = s.Balance(ctx, "a1", nov, grants)
		require.NoError(t, err)
		require.Equal(t, 49, bal.Used)

		// The other 48 are stale after a crash: refunded exactly once.
		n, err := s.RefundStale(ctx, now.Add(time.Second), now.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 48, n)
		n, err = s.RefundStale(ctx, now.Add(time.Second), now.Add(time.Minute))
		require.NoError(t, err)
		require.Zero(t, n)
		bal, err = s.Balance(ctx, "a1", nov, grants)
		require.NoError(t, err)
		require.Equal(t, store.Balance{Granted: 50, Used: 1}, bal)

		// The ledger adds up to the balance.
		entries, err := s.LedgerEntries(ctx, "a1", nov, 0, 1000)
		require.NoError(t, err)
		net := 0
		for _, e := range entries {
			switch e.Kind {
			case store.EntryCharge:
				net += e.Amount
			case store.EntryRefund:
				net -= e.Amount
				require.NotZero(t, e.RefundOf)
			}
		}
		require.Equal(t, bal.Used, net)
		page, err := s.LedgerEntries(ctx, "a1", nov, entries[9].ID, 5)
		require.NoError(t, err)
		require.Equal(t, entries[10:15], page)

		// Another period, a plan change and a grant.
		dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		bal, err = s.Balance(ctx, "a1", dec, grants)
		require.NoError(t, err)
		require.Equal(t, store.Balance{Granted: 50}, bal, "a new month starts afresh")
		require.NoError(t, s.SetPlan(ctx, "a1", "pro"))
		require.NoError(t, s.Grant(ctx, store.LedgerEntry{AccountID: "a1", PeriodStart: dec, Amount: 25, Operation: "goodwill", Time: dec}))
		bal, err = s.Balance(ctx, "a1", dec, grants)
		require.NoError(t, err)
		require.Equal(t, 1025, bal.Granted)
		require.ErrorIs(t, s.SetPlan(ctx, "nobody", "pro"), store.ErrNotFound)
		require.ErrorIs(t, s.Grant(ctx, store.LedgerEntry{AccountID: "nobody", PeriodStart: dec, Amount: 1, Time: dec}), store.ErrNotFound)
		acct, err := s.Account(ctx, "a1")
		require.NoError(t, err)
		require.Equal(t, "pro", acct.Plan)
		requireReconciled(t, s)
	})
	t.Run("DeleteAccountWhileItIsWritten", func(t *testing.T) {
		t.Parallel()
		deleteAccountWhileItIsWritten(t, open(t))
	})
	t.Run("CountersAddUpToTheLedger", func(t *testing.T) {
		t.Parallel()
		countersAddUpToTheLedger(t, open(t))
	})
	t.Run("IdempotentCalls", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		seedAccount(t, s, "a2", "b@example.com", "k2", now)
		call := store.IdempotentCall{AccountID: "a1", Key: "retry-1", RequestHash: []byte{1}, CreateTime: now}
		expired, abandoned := now.Add(-24*time.Hour), now.Add(-time.Hour)

		_, found, err := s.BeginIdempotent(ctx, call, expired, abandoned)
		require.NoError(t, err)
		require.False(t, found, "first use")
		got, found, err := s.BeginIdempotent(ctx, call, expired, abandoned)
		require.NoError(t, err)
		require.True(t, found)
		require.False(t, got.Done, "still running")
		other := call
		other.AccountID = "a2"
		_, found, err = s.BeginIdempotent(ctx, other, expired, abandoned)
		require.NoError(t, err)
		require.False(t, found, "keys are per account")

		require.NoError(t, s.FinishIdempotent(ctx, call, []byte("result"), []byte("header")))
		require.ErrorIs(t, s.FinishIdempotent(ctx, call, []byte("again"), nil), store.ErrNotFound)
		got, found, err = s.BeginIdempotent(ctx, call, expired, abandoned)
		require.NoError(t, err)
		require.True(t, found)
		require.True(t, got.Done)
		require.Equal(t, []byte("result"), got.Response)
		require.Equal(t, []byte("header"), got.Header)
		require.Equal(t, []byte{1}, got.RequestHash)

		// A failed call is forgotten, so its retry runs.
		failed := store.IdempotentCall{AccountID: "a1", Key: "retry-2", RequestHash: []byte{2}, CreateTime: now}
		_, _, err = s.BeginIdempotent(ctx, failed, expired, abandoned)
		require.NoError(t, err)
		require.NoError(t, s.AbandonIdempotent(ctx, failed))
		_, found, err = s.BeginIdempotent(ctx, failed, expired, abandoned)
		require.NoError(t, err)
		require.False(t, found)

		// A day later the key is free again; a running call whose server
		// died is free after the abandon time.
		_, found, err = s.BeginIdempotent(ctx, call, now, now.Add(-time.Hour))
		require.NoError(t, err)
		require.True(t, found)
		_, found, err = s.BeginIdempotent(ctx, call, now.Add(time.Second), abandoned)
		require.NoError(t, err)
		require.False(t, found, "expired")
		_, found, err = s.BeginIdempotent(ctx, failed, expired, now.Add(time.Second))
		require.NoError(t, err)
		require.False(t, found, "abandoned")
		n, err := s.SweepIdempotent(ctx, now.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, 3, n)
	})
	t.Run("IdempotentCallsAreTheirBeginners", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		expired, abandoned := now.Add(-24*time.Hour), now.Add(-time.Hour)
		// A runs in a process taken for dead (it was slow to renew its
		// mark), whose running calls are forgotten; B, a retry, begins
		// under the same key, even in the same process.
		a := store.IdempotentCall{AccountID: "a1", Key: "k", RequestHash: []byte{1}, CreateTime: now, Instance: "p1"}
		_, found, err := s.BeginIdempotent(ctx, a, expired, abandoned)
		require.NoError(t, err)
		require.False(t, found)
		n, err := s.AbandonInstanceCalls(ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		b := a
		b.CreateTime = now.Add(time.Second)
		_, found, err = s.BeginIdempotent(ctx, b, expired, abandoned)
		require.NoError(t, err)
		require.False(t, found)

		// A ends, failed or done: B's call is not A's to touch.
		require.NoError(t, s.AbandonIdempotent(ctx, a))
		require.ErrorIs(t, s.FinishIdempotent(ctx, a, []byte("A's result"), nil), store.ErrNotFound)
		got, found, err := s.BeginIdempotent(ctx, b, expired, abandoned)
		require.NoError(t, err)
		require.True(t, found, "B's call is still there")
		require.False(t, got.Done, "and still running")

		require.NoError(t, s.FinishIdempotent(ctx, b, []byte("B's result"), nil))
		got, found, err = s.BeginIdempotent(ctx, b, expired, abandoned)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("B's result"), got.Response)
	})
	t.Run("EverythingOfAnAccountForExport", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
		seedAccount(t, s, "a1", "a@example.com", "k1", now)
		seedAccount(t, s, "a2", "b@example.com", "k2", now)
		ev := store.AuditEvent{AccountID: "a1", Time: now, Kind: "x"}

		// Keys: revoked ones are listed too, with their revoke time.
		require.NoError(t, s.CreateAPIKey(ctx, store.APIKey{ID: "k3", AccountID: "a1", SecretHash: []byte{3}, CreateTime: now.Add(time.Second)}, ev, 10))
		_, err := s.UpdateAPIKey(ctx, "a1", "k1", func(k *store.APIKey) error { k.RevokeTime = now.Add(time.Minute); return nil }, ev)
		require.NoError(t, err)
		keys, err := s.AllAPIKeys(ctx, "a1")
		require.NoError(t, err)
		require.Len(t, keys, 2)
		require.Equal(t, []string{"k1", "k3"}, []string{keys[0].ID, keys[1].ID}, "oldest first")
		require.Equal(t, now.Add(time.Minute), keys[0].RevokeTime)
		require.True(t, keys[1].RevokeTime.IsZero())
		live, err := s.APIKeys(ctx, "a1")
		require.NoError(t, err)
		require.Len(t, live, 1)
		none, err := s.AllAPIKeys(ctx, "nobody")
		require.NoError(t, err)
		require.Empty(t, none)

		// Sessions: an account's own, expired ones not yet swept included.
		s1 := store.Session{ID: "s1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now, ExpireTime: now.Add(time.Minute), ClientAddress: "192.0.2.1"}
		s2 := store.Session{ID: "s2", AccountID: "a1", SecretHash: []byte{2}, CreateTime: now.Add(time.Second), ExpireTime: now.Add(time.Hour), ClientAddress: "192.0.2.2"}
		other := store.Session{ID: "s3", AccountID: "a2", SecretHash: []byte{3}, CreateTime: now.Add(time.Second), ExpireTime: now.Add(time.Hour)}
		for _, ses := range []store.Session{s1, s2, other} {
			require.NoError(t, s.CreateSession(ctx, ses, store.AuditEvent{AccountID: ses.AccountID, Time: now, Kind: "session.created"}))
		}
		sessions, err := s.Sessions(ctx, "a1")
		require.NoError(t, err)
		require.Equal(t, []store.Session{s1, s2}, sessions)

		// The ledger: every period, in id order, page by page.
		grants := map[string]int{"free": 50}
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		charge := store.LedgerEntry{AccountID: "a1", KeyID: "k3", PeriodStart: nov, Amount: 2, Operation: "upscale", RequestID: "r1", Time: now}
		c1, _, err := s.Reserve(ctx, charge, grants)
		require.NoError(t, err)
		require.NoError(t, s.Settle(ctx, c1.ID, false, now.Add(time.Second)))
		charge.PeriodStart, charge.RequestID, charge.Time = dec, "r2", dec
		c2, _, err := s.Reserve(ctx, charge, grants)
		require.NoError(t, err)
		require.NoError(t, s.Settle(ctx, c2.ID, true, dec))
		require.NoError(t, s.Grant(ctx, store.LedgerEntry{AccountID: "a1", PeriodStart: dec, Amount: 5, Operation: "goodwill", Time: dec}))
		_, _, err = s.Reserve(ctx, store.LedgerEntry{AccountID: "a2", KeyID: "k2", PeriodStart: nov, Amount: 1, Operation: "enhance", RequestID: "r3", Time: now}, grants)
		require.NoError(t, err)
		entries, err := s.AllLedgerEntries(ctx, "a1", 0, 100)
		require.NoError(t, err)
		require.Len(t, entries, 4, "charge, its refund, charge, grant")
		type row struct {
			kind, state, request string
			period               time.Time
			refundOf             int64
		}
		var rows []row
		for i, e := range entries {
			require.Equal(t, "a1", e.AccountID)
			if i > 0 {
				require.Greater(t, e.ID, entries[i-1].ID)
			}
			rows = append(rows, row{e.Kind, e.State, e.RequestID, e.PeriodStart, e.RefundOf})
		}
		require.Equal(t, []row{
			{store.EntryCharge, store.ChargeRefunded, "r1", nov, 0},
			{store.EntryRefund, "", "r1", nov, c1.ID},
			{store.EntryCharge, store.ChargeFinal, "r2", dec, 0},
			{store.EntryGrant, "", "", dec, 0},
		}, rows)
		require.Equal(t, "k3", entries[1].KeyID)
		require.Equal(t, now.Add(time.Second), entries[1].Time)
		page, err := s.AllLedgerEntries(ctx, "a1", entries[1].ID, 1)
		require.NoError(t, err)
		require.Equal(t, entries[2:3], page)

		// Idempotent calls: metadata only, in key order, page by page.
		expired, abandoned := now.Add(-24*time.Hour), now.Add(-time.Hour)
		for i, k := range []string{"b", "a", "c"} {
			_, _, err := s.BeginIdempotent(ctx, store.IdempotentCall{AccountID: "a1", Key: k, RequestHash: []byte{1}, CreateTime: now.Add(time.Duration(i) * time.Second)}, expired, abandoned)
			require.NoError(t, err)
		}
		_, _, err = s.BeginIdempotent(ctx, store.IdempotentCall{AccountID: "a2", Key: "a", RequestHash: []byte{1}, CreateTime: now}, expired, abandoned)
		require.NoError(t, err)
		require.NoError(t, s.FinishIdempotent(ctx, store.IdempotentCall{AccountID: "a1", Key: "b", CreateTime: now}, []byte("a whole image"), []byte("header")))
		calls, err := s.IdempotentCalls(ctx, "a1", "", 100)
		require.NoError(t, err)
		require.Equal(t, []store.IdempotentCall{
			{AccountID: "a1", Key: "a", CreateTime: now.Add(time.Second)},
			{AccountID: "a1", Key: "b", Done: true, CreateTime: now},
			{AccountID: "a1", Key: "c", CreateTime: now.Add(2 * time.Second)},
		}, calls, "no request hash, response or header")
		paged, err := s.IdempotentCalls(ctx, "a1", "a", 1)
		require.NoError(t, err)
		require.Equal(t, calls[1:2], paged)

		// Erasure leaves nothing of the account to list.
		require.NoError(t, s.DeleteAccount(ctx, "a1"))
		keys, err = s.AllAPIKeys(ctx, "a1")
		require.NoError(t, err)
		require.Empty(t, keys)
		sessions, err = s.Sessions(ctx, "a1")
		require.NoError(t, err)
		require.Empty(t, sessions)
		entries, err = s.AllLedgerEntries(ctx, "a1", 0, 100)
		require.NoError(t, err)
		require.Empty(t, entries)
		calls, err = s.IdempotentCalls(ctx, "a1", "", 100)
		require.NoError(t, err)
		require.Empty(t, calls)
		sessions, err = s.Sessions(ctx, "a2")
		require.NoError(t, err)
		require.Equal(t, []store.Session{other}, sessions, "another account keeps its own")
		requireReconciled(t, s)
	})
	t.Run("WhatADeadProcessHeldIsReleased", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		require.NoError(t, s.CreateAccount(ctx,
			store.Account{ID: "a1", Email: "dead@example.com", PasswordHash: "h", CreateTime: now},
			store.APIKey{ID: "k1", AccountID: "a1", SecretHash: []byte{1}, CreateTime: now}))
		grants := map[string]int{"": 50, "free": 50}
		period := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		reserve := func(instance, request string) store.LedgerEntry {
			c, _, err := s.Reserve(ctx, store.LedgerEntry{AccountID: "a1", KeyID: "k1", PeriodStart: period, Amount: 2,
				Operation: "enhance", RequestID: request, Time: now, Instance: instance}, grants)
			require.NoError(t, err)
			return c
		}
		reserve("dead", "r1")
		reserve("dead", "r2")
		reserve("live", "r3")
		settled := reserve("dead", "r4")
		require.NoError(t, s.Settle(ctx, settled.ID, true, now))
		for _, c := range []struct{ instance, key string }{{"dead", "d1"}, {"live", "l1"}} {
			_, _, err := s.BeginIdempotent(ctx, store.IdempotentCall{AccountID: "a1", Key: c.key, RequestHash: []byte{1}, CreateTime: now, Instance: c.instance},
				now.Add(-time.Hour), now.Add(-time.Hour))
			require.NoError(t, err)
		}

		release, err := s.Hold(ctx, "live")
		require.NoError(t, err)
		_, err = s.Hold(ctx, "live")
		require.Error(t, err, "one holder at a time")
		alive, err := s.Alive(ctx, "live")
		require.NoError(t, err)
		require.True(t, alive)
		alive, err = s.Alive(ctx, "dead")
		require.NoError(t, err)
		require.False(t, alive, "a process that holds no mark is dead")
		holders, err := s.Holders(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"dead", "live"}, holders)

		n, err := s.RefundInterrupted(ctx, "dead", now)
		require.NoError(t, err)
		require.Equal(t, 2, n, "its two pending charges, not its final one")
		n, err = s.AbandonInstanceCalls(ctx, "dead")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		entries, err := s.LedgerEntries(ctx, "a1", period, 0, 100)
		require.NoError(t, err)
		var refunds []string
		for _, e := range entries {
			if e.Kind == store.EntryRefund {
				refunds = append(refunds, e.RequestID+":"+e.Reason)
			}
		}
		require.ElementsMatch(t, []string{"r1:" + store.RefundInterrupted, "r2:" + store.RefundInterrupted}, refunds)
		bal, err := s.Balance(ctx, "a1", period, grants)
		require.NoError(t, err)
		require.Equal(t, 4, bal.Used, "the live process's charge and the final one stand")
		holders, err = s.Holders(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"live"}, holders)
		_, found, err := s.BeginIdempotent(ctx, store.IdempotentCall{AccountID: "a1", Key: "l1", RequestHash: []byte{1}, CreateTime: now},
			now.Add(-time.Hour), now.Add(-time.Hour))
		require.NoError(t, err)
		require.True(t, found, "the live process's call still runs")
		requireReconciled(t, s)

		require.NoError(t, release())
		alive, err = s.Alive(ctx, "live")
		require.NoError(t, err)
		require.False(t, alive, "released")
	})
	t.Run("ThrottlesCountInFlightAttempts", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		expire := now.Add(10 * time.Minute)
		fixed := store.ThrottleLimit{Key: "address:192.0.2.1", Limit: 5, Window: time.Hour, Block: time.Hour}
		limits := []store.ThrottleLimit{fixed}

		// 50 at once: exactly the limit's worth are let through, because
		// each sees the others in flight.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var passed []int64
		var refused []*store.ThrottledError
		var other []error
		for range 50 {
			wg.Go(func() {
				id, err := s.ReserveAttempt(ctx, limits, now, expire)
				mu.Lock()
				defer mu.Unlock()
				var te *store.ThrottledError
				switch {
				case err == nil:
					passed = append(passed, id)
				case errors.As(err, &te):
					refused = append(refused, te)
				default:
					other = append(other, err)
				}
			})
		}
		wg.Wait()
		require.Empty(t, other)
		require.Len(t, passed, 5)
		require.Len(t, refused, 45)
		require.Equal(t, fixed.Key, refused[0].Key)
		require.Equal(t, time.Hour, refused[0].RetryAfter, "what the attempts in flight would block for if they all count")
		require.Error(t, s.CheckAttempt(ctx, limits, now), "a check sees attempts in flight")

		// A released attempt frees its place; a kept one holds it.
		require.NoError(t, s.SettleAttempt(ctx, passed[0], limits, nil, now))
		require.NoError(t, s.CheckAttempt(ctx, limits, now))
		id, err := s.ReserveAttempt(ctx, limits, now, expire)
		require.NoError(t, err)
		passed[0] = id
		keep := map[string]store.ThrottleOutcome{fixed.Key: store.ThrottleKeep}
		for i, id := range passed {
			require.NoError(t, s.SettleAttempt(ctx, id, limits, keep, now.Add(time.Duration(i)*time.Second)))
		}
		// Settling again changes nothing: the fifth counted attempt (at
		// +4 s) blocked the key for an hour, not more.
		require.NoError(t, s.SettleAttempt(ctx, passed[4], limits, keep, now.Add(time.Minute)))
		_, err = s.ReserveAttempt(ctx, limits, now.Add(30*time.Minute), expire)
		var te *store.ThrottledError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 30*time.Minute+4*time.Second, te.RetryAfter)
		require.ErrorAs(t, s.CheckAttempt(ctx, limits, now.Add(time.Hour)), &te)
		require.NoError(t, s.CheckAttempt(ctx, limits, now.Add(time.Hour+4*time.Second)), "block and window over: forgotten")
		require.NoError(t, s.CheckAttempt(ctx, []store.ThrottleLimit{{Key: "address:192.0.2.2", Limit: 5, Window: time.Hour, Block: time.Hour}}, now),
			"other keys are not affected")
	})
	t.Run("ThrottlesBackOffExponentiallyAndReset", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		pair := store.ThrottleLimit{Key: "signin:pair", Limit: 2, Window: 24 * time.Hour, Block: time.Minute, MaxBlock: 4 * time.Minute}
		limits := []store.ThrottleLimit{pair}
		keep := map[string]store.ThrottleOutcome{pair.Key: store.ThrottleKeep}
		fail := func(at time.Time) {
			t.Helper()
			id, err := s.ReserveAttempt(ctx, limits, at, at.Add(10*time.Minute))
			require.NoError(t, err)
			require.NoError(t, s.SettleAttempt(ctx, id, limits, keep, at))
		}
		fail(now)
		fail(now)
		for _, block := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
			var te *store.ThrottledError
			require.ErrorAs(t, s.CheckAttempt(ctx, limits, now.Add(block-time.Second)), &te)
			require.Equal(t, time.Second, te.RetryAfter)
			now = now.Add(block)
			// Past the limit, one attempt at a time.
			id, err := s.ReserveAttempt(ctx, limits, now, now.Add(10*time.Minute))
			require.NoError(t, err)
			_, err = s.ReserveAttempt(ctx, limits, now, now.Add(10*time.Minute))
			require.ErrorAs(t, err, &te, "a second attempt while the first is in flight")
			require.NoError(t, s.SettleAttempt(ctx, id, limits, keep, now))
		}
		// A success forgets the failures.
		now = now.Add(4 * time.Minute)
		id, err := s.ReserveAttempt(ctx, limits, now, now.Add(10*time.Minute))
		require.NoError(t, err)
		require.NoError(t, s.SettleAttempt(ctx, id, limits, map[string]store.ThrottleOutcome{pair.Key: store.ThrottleReset}, now))
		fail(now)
		require.NoError(t, s.CheckAttempt(ctx, limits, now), "counting starts again")
	})
	t.Run("ThrottlesReserveEveryKeyOrNone", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		pair := store.ThrottleLimit{Key: "pair", Limit: 1, Window: time.Hour, Block: time.Hour}
		address := store.ThrottleLimit{Key: "address", Limit: 2, Window: time.Hour, Block: time.Hour}
		both := []store.ThrottleLimit{address, pair}
		_, err := s.ReserveAttempt(ctx, both, now, now.Add(time.Minute))
		require.NoError(t, err)
		_, err = s.ReserveAttempt(ctx, both, now, now.Add(time.Minute))
		var te *store.ThrottledError
		require.ErrorAs(t, err, &te)
		require.Equal(t, "pair", te.Key)
		_, err = s.ReserveAttempt(ctx, []store.ThrottleLimit{address}, now, now.Add(time.Minute))
		require.NoError(t, err, "the refused reservation took nothing of the address")

		// An attempt whose process died stops counting when it expires,
		// and settling it then changes nothing.
		later := now.Add(2 * time.Minute)
		require.NoError(t, s.CheckAttempt(ctx, both, later))
		id, err := s.ReserveAttempt(ctx, both, later, later.Add(time.Minute))
		require.NoError(t, err)
		require.NoError(t, s.SettleAttempt(ctx, id, both, map[string]store.ThrottleOutcome{"pair": store.ThrottleKeep}, later.Add(2*time.Minute)))
		require.NoError(t, s.CheckAttempt(ctx, both, later.Add(2*time.Minute)))

		require.Error(t, s.CheckAttempt(ctx, []store.ThrottleLimit{pair, pair}, now), "a key twice")
		require.Error(t, s.CheckAttempt(ctx, []store.ThrottleLimit{{Key: "x", Window: time.Hour, Block: time.Hour}}, now), "no limit")
	})
	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, open(t).Ping(context.Background()))
	})
}

func seedAccount(t *testing.T, s store.Store, id, email, keyID string, now time.Time) {
	t.Helper()
	require.NoError(t, s.CreateAccount(context.Background(),
		store.Account{ID: id, Email: email, PasswordHash: "h", CreateTime: now},
		store.APIKey{ID: keyID, AccountID: id, DisplayName: "default", SecretHash: []byte(keyID), Scopes: []string{"images:enhance"}, CreateTime: now}))
}

// deleteAccountWhileItIsWritten deletes accounts while their credits are
// reserved and settled and their key renamed, round after round: the
// deletion succeeds, and each writer either succeeds or finds the account
// gone, never fails on a lock (a deadlock with the cascade of the
// deletion).
func deleteAccountWhileItIsWritten(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	period := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	grants := map[string]int{"free": 1_000_000}
	for round := range 20 {
		id := fmt.Sprintf("del%d", round)
		keyID := "k" + id
		seedAccount(t, s, id, id+"@example.com", keyID, now)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			bad     []error
			started sync.WaitGroup
		)
		check := func(err error) bool {
			if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInsufficientCredits) {
				return true
			}
			mu.Lock()
			defer mu.Unlock()
			bad = append(bad, err)
			return false
		}
		const ledgerWriters = 3
		started.Add(ledgerWriters + 1)
		for w := range ledgerWriters {
			wg.Go(func() {
				first := true
				for i := 0; ; i++ {
					c, _, err := s.Reserve(ctx, store.LedgerEntry{AccountID: id, KeyID: keyID, PeriodStart: period, Amount: 1,
						Operation: "enhance", RequestID: fmt.Sprintf("r%d-%d", w, i), Time: now}, grants)
					if err == nil {
						err = s.Settle(ctx, c.ID, (w+i)%2 == 0, now)
					}
					if first {
						first = false
						started.Done()
					}
					if !check(err) || errors.Is(err, store.ErrNotFound) {
						return
					}
				}
			})
		}
		wg.Go(func() {
			first := true
			for i := 0; ; i++ {
				_, err := s.UpdateAPIKey(ctx, id, keyID, func(k *store.APIKey) error {
					k.DisplayName = fmt.Sprintf("name %d", i)
					return nil
				}, store.AuditEvent{AccountID: id, Time: now, Kind: "key.renamed", KeyID: keyID})
				if first {
					first = false
					started.Done()
				}
				if !check(err) || errors.Is(err, store.ErrNotFound) {
					return
				}
			}
		})
		started.Wait()
		require.NoError(t, s.DeleteAccount(ctx, id), "round %d", round)
		wg.Wait()
		require.Empty(t, bad, "round %d: the writers end in success or the account's absence", round)
		_, err := s.Account(ctx, id)
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	requireReconciled(t, s)
}
