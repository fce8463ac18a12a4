package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/throttle"
)

// hangUpStore ends the request (hangUp) as its account is written: a
// caller who hangs up once the hash is done.
type hangUpStore struct {
	*storesqlite.Store
	hangUp func()
}

func (s hangUpStore) CreateAccount(ctx context.Context, a store.Account, k store.APIKey) error {
	s.hangUp()
	return s.Store.CreateAccount(ctx, a, k)
}

// TestRegistrationsCountOnceHashed: a registration whose caller hangs up
// (or whose deadline ends) after its hash still counts against the
// address, so that a short deadline buys no free hashes.
func TestRegistrationsCountOnceHashed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var cancel context.CancelFunc
	svc := *f.svc
	svc.store = hangUpStore{Store: f.db, hangUp: func() { cancel() }}
	client := "192.0.2.7"
	for i := range registrations.Limit {
		ctx, stop := context.WithCancel(context.Background())
		cancel = stop
		_, err := svc.Register(ctx, fmt.Sprintf("gone%d@example.com", i), "correct horse battery", client)
		stop()
		// The account is made (its key shown to nobody); the answer is
		// the caller's lost cause either way.
		require.NoError(t, err, i)
	}
	_, err := f.svc.Register(context.Background(), "later@example.com", "correct horse battery", client)
	var te *throttle.Error
	require.ErrorAs(t, err, &te, "every hashed registration counted")
	n, err := f.db.AccountCount(context.Background())
	require.NoError(t, err)
	require.Equal(t, registrations.Limit, n)
}

// TestSignInThrottlesCountAClientsWholeNetwork: an IPv6 client's /64 is
// one client, and an IPv4-mapped address is its IPv4 address, so that
// rotating addresses on one line buys no more guesses.
func TestSignInThrottlesCountAClientsWholeNetwork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.svc.Register(ctx, "owner@example.com", "correct horse battery", "")
	require.NoError(t, err)
	for i := range signInPair.Limit {
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", fmt.Sprintf("2001:db8:0:1::%x", i+1))
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	var te *throttle.Error
	_, err = f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", "2001:db8:0:1:ffff::1")
	require.ErrorAs(t, err, &te, "another address of the same /64")
	require.Equal(t, signInPair.What, te.What)

	for i := range signInPair.Limit {
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", "192.0.2.44")
		require.ErrorIs(t, err, ErrBadCredentials, i)
	}
	_, err = f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", "::ffff:192.0.2.44")
	require.ErrorAs(t, err, &te, "the IPv4 address, written as IPv6")
}

// TestSignInFailuresAreCappedPerAccount: many addresses together get at
// most 100 guesses at one account (NIST SP 800-63B §5.2.2); then the
// account waits, the owner included, and a success forgets the count.
func TestSignInFailuresAreCappedPerAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.svc.Register(ctx, "owner@example.com", "correct horse battery", "")
	require.NoError(t, err)
	for i := range signInAccount.Limit {
		client := fmt.Sprintf("2001:db8:%x::1", i/signInPair.Limit)
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", client)
		require.ErrorIs(t, err, ErrBadCredentials, i)
	}
	var te *throttle.Error
	_, err = f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", "198.51.100.1")
	require.ErrorAs(t, err, &te, "a fresh address is refused too")
	require.Equal(t, signInAccount.What, te.What)
	require.Equal(t, signInAccount.Block, te.RetryAfter)
	_, err = f.svc.SignIn(ctx, "someone.else@example.com", "a wrong guess here", "198.51.100.1")
	require.ErrorIs(t, err, ErrBadCredentials, "other accounts are not affected")

	*f.now = f.now.Add(signInAccount.Block)
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", "192.0.2.1")
	require.NoError(t, err, "the wait over, the owner signs in")
	_, err = f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", "198.51.100.2")
	require.ErrorIs(t, err, ErrBadCredentials, "the success forgot the account's failures")
}

// unsettledStore fails every SettleAttempt: a database that takes the
// account but then refuses the count.
type unsettledStore struct{ *storesqlite.Store }

func (unsettledStore) SettleAttempt(context.Context, int64, []store.ThrottleLimit, map[string]store.ThrottleOutcome, time.Time) error {
	return errors.New("disk I/O error")
}

// TestRegistrationAnswersTheAccountItMade: an account made is answered
// with its one-time key even when counting the registration fails; the
// failure is logged.
func TestRegistrationAnswersTheAccountItMade(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var logs bytes.Buffer
	svc, err := New(Config{Store: unsettledStore{f.db}, Codec: f.svc.codec, Hasher: f.svc.hasher,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	reg, err := svc.Register(context.Background(), "kept@example.com", "correct horse battery", "192.0.2.8")
	require.NoError(t, err)
	require.NotEmpty(t, reg.Secret)
	require.Contains(t, logs.String(), "registration not counted")
}

// lookupCounter counts AccountByEmail calls.
type lookupCounter struct {
	*storesqlite.Store
	n *atomic.Int32
}

func (s lookupCounter) AccountByEmail(ctx context.Context, email string) (store.Account, error) {
	s.n.Add(1)
	return s.Store.AccountByEmail(ctx, email)
}

// TestSignInRefusesHugeEmailsFirst: an email longer than any account's is
// refused before it is normalised, looked up or hashed.
func TestSignInRefusesHugeEmailsFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var n atomic.Int32
	svc := *f.svc
	svc.store = lookupCounter{Store: f.db, n: &n}
	_, err := svc.SignIn(context.Background(), strings.Repeat("A", 4*maxEmailBytes+1)+"@example.com", "correct horse battery", "192.0.2.1")
	require.ErrorIs(t, err, ErrBadCredentials)
	require.Zero(t, n.Load(), "no database look-up")
	_, err = svc.SignIn(context.Background(), "someone@example.com", "correct horse battery", "192.0.2.1")
	require.ErrorIs(t, err, ErrBadCredentials)
	require.NotZero(t, n.Load(), "an ordinary email is looked up")
}

// TestDifferentDomainsAreDifferentAccounts: straße.de is not strasse.de.
func TestDifferentDomainsAreDifferentAccounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a, err := f.svc.Register(ctx, "user@stra\u00dfe.de", "correct horse battery", "")
	require.NoError(t, err)
	require.Equal(t, "user@stra\u00dfe.de", a.Account.Email)
	b, err := f.svc.Register(ctx, "user@strasse.de", "correct horse battery", "")
	require.NoError(t, err, "the real strasse.de is not taken")
	require.NotEqual(t, a.Account.ID, b.Account.ID)
	in, err := f.svc.SignIn(ctx, "USER@STRASSE.DE", "correct horse battery", "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, b.Account.ID, in.Session.AccountID)
}

// TestLegacyAccountsKeepTheirSignIns: accounts stored before emails had a
// normal form in the database get it at start, so that a new account
// under another spelling (which COLLATE NOCASE, ASCII only, let through)
// cannot be registered and take their sign-ins; legacy accounts whose
// normal forms collide each keep their own spelling and the normal form
// stays taken.
func TestLegacyAccountsKeepTheirSignIns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	hash, err := auth.HashPassword("correct horse battery")
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for id, email := range map[string]string{
		"elodie": "\u00c9LODIE@example.com",
		"zoe1":   "Zo\u00cb@example.com", "zoe2": "zo\u00eb@example.com", // two accounts to COLLATE NOCASE
		"strasse": "Stra\u00dfe@example.com",
	} {
		require.NoError(t, db.CreateAccount(ctx, store.Account{ID: id, Email: email, PasswordHash: hash, CreateTime: now},
			store.APIKey{ID: "k" + id, AccountID: id, SecretHash: []byte{1}, CreateTime: now}))
	}
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	hasher, err := auth.NewHasherCost(4, auth.Cost{MemoryKiB: 8, Passes: 1})
	require.NoError(t, err)
	var logs bytes.Buffer
	svc, err := New(Config{Store: db, Codec: codec, Hasher: hasher, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Contains(t, logs.String(), "zoe1,zoe2", "the collision is reported")

	_, err = svc.Register(ctx, "\u00e9lodie@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken, "the legacy account's address is taken in every spelling")
	in, err := svc.SignIn(ctx, "\u00c9LODIE@example.com", "correct horse battery", "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, "elodie", in.Session.AccountID)

	_, err = svc.Register(ctx, "ZO\u00cb@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken, "a collided address stays taken")
	for typed, id := range map[string]string{"Zo\u00cb@example.com": "zoe1", "zo\u00eb@example.com": "zoe2"} {
		in, err := svc.SignIn(ctx, typed, "correct horse battery", "192.0.2.1")
		require.NoError(t, err, typed)
		require.Equal(t, id, in.Session.AccountID, "each signs in with its own spelling")
	}

	// The key is folded: ß is ss.
	_, err = svc.Register(ctx, "STRASSE@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken, "the legacy account's address is taken in every spelling")
	in, err = svc.SignIn(ctx, "strasse@example.com", "correct horse battery", "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, "strasse", in.Session.AccountID)

	// A second start finds nothing left to fill in.
	logs.Reset()
	_, err = New(Config{Store: db, Codec: codec, Hasher: hasher, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Empty(t, logs.String())
}
