// Package account is what an account owner does with their account:
// register (with a first API key), sign in and out of sessions, export
// everything stored about them, and erase it.
package account

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/throttle"
)

// ErrInvalid wraps a request rejected for its input; the message is safe
// to show.
var ErrInvalid = errors.New("invalid registration")

// ErrEmailTaken means the email is already registered.
var ErrEmailTaken = errors.New("an account with this email already exists")

// ErrRegistrationClosed means the operator has closed registration.
var ErrRegistrationClosed = errors.New("registration is closed on this server")

// ErrBadCredentials is the one answer to a failed sign-in, whether or not
// the email exists.
var ErrBadCredentials = errors.New("the email or password is incorrect")

// SessionTTL is how long a session lasts; it is not extended by use.
const SessionTTL = time.Hour

// The throttles. A failed sign-in counts against the account as seen from
// its client's address, so that a stranger elsewhere does not lock the
// owner out at the fifth failure; against the address across accounts,
// so that one address cannot try one password on every account; and
// against the account from everywhere, so that many addresses together
// cannot guess without end (NIST SP 800-63B §5.2.2: at most 100
// consecutive failures). An address is counted by its clientaddr.Bucket:
// an IPv6 client's whole /64.
var (
	// signInPair: 5 failures, then a minute's wait, doubling with each
	// further failure up to an hour; forgotten a day after the first, or
	// when the owner signs in from that address.
	signInPair = throttle.Rule{Name: "signin-pair", What: "failed sign-ins for this account from this address",
		Limit: 5, Window: 24 * time.Hour, Block: time.Minute, MaxBlock: time.Hour}
	// signInAccount: 100 failures from anywhere, then a minute's wait,
	// doubling up to an hour; forgotten a day after the first, or when
	// the owner signs in. It holds for every address alike: a stranger
	// who spends 100 guesses (from 20 addresses at least) locks the owner
	// out for minutes, which is the price of a bound on guessing.
	signInAccount = throttle.Rule{Name: "signin-account", What: "failed sign-ins for this account",
		Limit: 100, Window: 24 * time.Hour, Block: time.Minute, MaxBlock: time.Hour}
	// signInAddress: 20 failures in 15 minutes block the address for 15.
	signInAddress = throttle.Rule{Name: "signin-address", What: "failed sign-ins from this address",
		Limit: 20, Window: 15 * time.Minute, Block: 15 * time.Minute}
	// registrations: 5 accounts an hour per address, and registrations
	// of a taken email count too; the fifth blocks the address an hour.
	registrations = throttle.Rule{Name: "registration-address", What: "registrations from this address",
		Limit: 5, Window: time.Hour, Block: time.Hour}
	// erasures: wrong passwords at erasure (through a stolen session),
	// like signInPair but per account.
	erasures = throttle.Rule{Name: "erasure-account", What: "failed password checks for this account",
		Limit: 5, Window: 24 * time.Hour, Block: time.Minute, MaxBlock: time.Hour}
)

// Config assembles a Service.
type Config struct {
	Store store.Store
	Codec *auth.Codec
	// Hasher bounds password hashing (auth.NewHasher(0) when nil).
	Hasher *auth.Hasher
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RegistrationClosed refuses new accounts (the operator's switch).
	RegistrationClosed bool
	// Forget drops a key from the verification cache (auth.Verifier), so
	// that an erased account's keys stop at once.
	Forget func(keyID string)
	// Log receives what fails without changing an answer (slog.Default()
	// when nil).
	Log *slog.Logger
}

// Service registers accounts and manages their sessions.
type Service struct {
	store    store.Store
	codec    *auth.Codec
	hasher   *auth.Hasher
	throttle *throttle.Throttle
	policy   passwordPolicy
	now      func() time.Time
	closed   bool
	forget   func(keyID string)
	log      *slog.Logger
	// dummyHash is checked against when an email is unknown, so that a
	// failed sign-in takes as long whether or not the account exists.
	dummyHash string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Codec == nil {
		return nil, errors.New("account: needs a store and a codec")
	}
	if cfg.Forget == nil {
		cfg.Forget = func(string) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Hasher == nil {
		h, err := auth.NewHasher(0)
		if err != nil {
			return nil, err
		}
		cfg.Hasher = h
	}
	t, err := throttle.New(cfg.Store, now)
	if err != nil {
		return nil, err
	}
	if err := fillEmailKeys(cfg.Store, cfg.Log); err != nil {
		return nil, err
	}
	dummy, err := cfg.Hasher.Dummy()
	if err != nil {
		return nil, err
	}
	return &Service{
		store: cfg.Store, codec: cfg.Codec, hasher: cfg.Hasher, throttle: t, policy: newPasswordPolicy(),
		now: now, closed: cfg.RegistrationClosed, dummyHash: dummy, forget: cfg.Forget, log: cfg.Log,
	}, nil
}

// Registered is a new account with its first key; Secret is the key in
// its wire format, which exists nowhere else.
type Registered struct {
	Account store.Account
	Key     store.APIKey
	Secret  string
}

// Register validates email and password and creates the account with a
// first key named "default" holding auth.DefaultScopes. client is the
// caller's address, for throttling; "" for the operator's own accounts.
// The email is stored as typed (emailAddress) and unique by its key
// (emailKey): another spelling of a registered address is taken.
func (s *Service) Register(ctx context.Context, email, password, client string) (Registered, error) {
	return s.RegisterWithScopes(ctx, email, password, client, auth.DefaultScopes)
}

// RegisterWithScopes is Register with the first key holding scopes: the
// operator's development account's key also manages keys.
func (s *Service) RegisterWithScopes(ctx context.Context, email, password, client string, scopes []string) (Registered, error) {
	if s.closed && client != "" {
		return Registered{}, ErrRegistrationClosed
	}
	// Input is checked before the throttle: a mistyped form costs no hash
	// and counts against nobody.
	email, err := validateEmail(email)
	if err != nil {
		return Registered{}, err
	}
	if err := s.policy.check(password, email); err != nil {
		return Registered{}, err
	}
	// A blocked address is refused on a read, before it takes a place in
	// the hashing queue; then a place in the queue, of the few one
	// address may hold, so that a flood is turned away before it costs a
	// database write.
	bucket := clientaddr.Bucket(client)
	limit := registrations.On(bucket)
	if client != "" {
		if err := s.throttle.Check(ctx, limit); err != nil {
			return Registered{}, err
		}
	}
	turn, err := s.hasher.QueueFor(bucket)
	if err != nil {
		return Registered{}, err
	}
	defer turn.Leave()
	var res *throttle.Reservation
	if client != "" {
		if res, err = s.throttle.Reserve(ctx, limit); err != nil {
			return Registered{}, err
		}
		defer res.Release(ctx) // unless kept below
	}
	// A taken email costs the same hash as a new one, and counts the
	// same against the address, so that probing for accounts is neither
	// cheaper nor faster than registering them.
	hash, err := turn.Hash(ctx, password)
	if err != nil {
		return Registered{}, err
	}
	key, err := s.codec.New(auth.APIKey)
	if err != nil {
		return Registered{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	acct := store.Account{ID: newID(), Email: email, EmailKey: emailKey(email), PasswordHash: hash, CreateTime: now}
	info := store.APIKey{
		ID:          key.ID,
		AccountID:   acct.ID,
		DisplayName: "default",
		SecretHash:  key.SecretHash(),
		Scopes:      scopes,
		CreateTime:  now,
	}
	// The hash is paid for: from here the attempt counts whatever becomes
	// of the request, so that a caller who hangs up (or sends a deadline
	// that ends) once the hash is done gets it free of nothing. The write
	// runs on a context of its own for that reason.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	err = s.store.CreateAccount(wctx, acct, info)
	if err == nil || errors.Is(err, store.ErrConflict) || !storeAtFault(err) {
		if kerr := res.Keep(ctx); kerr != nil {
			if err == nil {
				// The account exists and its key is shown only now: a
				// 500 would lose the key, and a retry would say "taken".
				// One registration uncounted is the lesser harm.
				s.log.ErrorContext(ctx, "registration not counted against its address", "err", kerr)
			} else {
				return Registered{}, kerr
			}
		}
	}
	if errors.Is(err, store.ErrConflict) {
		return Registered{}, ErrEmailTaken
	}
	if err != nil {
		return Registered{}, err
	}
	return Registered{Account: acct, Key: info, Secret: s.codec.Format(key)}, nil
}

// writeTimeout bounds a write that must happen even when the request has
// ended (an account whose hash is paid for).
const writeTimeout = 10 * time.Second

// storeAtFault reports whether a failed write is the store's own doing (a
// broken database), not the request's: only then is an attempt whose
// work was done given back. A context that ended (ours, waiting for the
// database under a flood) is the request's side.
func storeAtFault(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// SignedIn is a new session; Token is its secret, shown this once.
type SignedIn struct {
	Session store.Session
	Token   string
}

// SignIn checks email and password and opens a session. Every failure is
// ErrBadCredentials (or a throttle.Error once there are too many), so the
// answer never tells whether the email exists. The attempt takes a place
// in the hashing queue (or is refused as busy: a client holds few
// places), then its place in the throttles, before the password is
// hashed, and keeps the latter if the password is wrong; a blocked one is
// refused on a read before any of that.
func (s *Service) SignIn(ctx context.Context, email, password, client string) (SignedIn, error) {
	if len(email) > 4*maxEmailBytes {
		// No account has one (registration refuses it): not worth
		// folding, a read or a hash.
		return SignedIn{}, ErrBadCredentials
	}
	// The throttles count the key, so that another spelling of the
	// address counts against the same account.
	key := emailKey(email)
	bucket := clientaddr.Bucket(client)
	limits := []throttle.Key{signInPair.On(key, bucket), signInAddress.On(bucket), signInAccount.On(key)}
	// A blocked address or account is refused on a read, before it takes
	// a place in the hashing queue or waits for a turn to write, so that
	// a flood from it makes nobody else's sign-in busy.
	if err := s.throttle.Check(ctx, limits...); err != nil {
		return SignedIn{}, err
	}
	turn, err := s.hasher.QueueFor(bucket)
	if err != nil {
		return SignedIn{}, err
	}
	defer turn.Leave()
	res, err := s.throttle.Reserve(ctx, limits...)
	if err != nil {
		return SignedIn{}, err
	}
	defer res.Release(ctx) // when neither kept nor forgotten below (busy, a database error)
	acct, found, err := s.lookup(ctx, email, key)
	if err != nil {
		return SignedIn{}, err
	}
	hash := s.dummyHash
	if found {
		hash = acct.PasswordHash
	}
	switch check := turn.Check(ctx, hash, password); {
	case check == nil && found:
	case check == nil || errors.Is(check, auth.ErrPasswordMismatch):
		if err := res.Keep(ctx); err != nil {
			return SignedIn{}, err
		}
		if found {
			// Best effort: a failed audit write must not change the answer.
			_ = s.store.RecordAudit(ctx, store.AuditEvent{
				AccountID: acct.ID, Time: s.now().UTC(), Kind: EventSignInFailed, ClientAddress: client, Reason: "wrong password",
			})
		}
		return SignedIn{}, ErrBadCredentials
	default:
		return SignedIn{}, check
	}
	if err := res.Forget(ctx, signInPair, signInAccount); err != nil {
		return SignedIn{}, err
	}
	tok, err := s.codec.New(auth.Session)
	if err != nil {
		return SignedIn{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	ses := store.Session{
		ID: tok.ID, AccountID: acct.ID, SecretHash: tok.SecretHash(),
		CreateTime: now, ExpireTime: now.Add(SessionTTL), ClientAddress: client,
	}
	event := store.AuditEvent{AccountID: acct.ID, Time: now, Kind: EventSessionCreated, ClientAddress: client}
	if err := s.store.CreateSession(ctx, ses, event); err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Session: ses, Token: s.codec.Format(tok)}, nil
}

// lookup finds the account of an email as typed: by its key (emailKey),
// or, for an account registered before emails had keys, as it was typed
// then (the database compares ASCII letters without case).
func (s *Service) lookup(ctx context.Context, typed, key string) (store.Account, bool, error) {
	acct, err := s.store.AccountByEmailKey(ctx, key)
	if raw := strings.TrimSpace(typed); errors.Is(err, store.ErrNotFound) {
		// Only a legacy account whose key collided with another's
		// (fillEmailKeys) has none to find it by: it is found by its own
		// spelling, as before.
		acct, err = s.store.AccountByEmail(ctx, raw)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Account{}, false, nil
	case err != nil:
		return store.Account{}, false, err
	}
	return acct, true, nil
}

// SignOut ends the caller's session.
func (s *Service) SignOut(ctx context.Context, p auth.Principal, client string) error {
	if p.SessionID == "" {
		return auth.ErrSessionRequired
	}
	return s.store.DeleteSession(ctx, p.SessionID, store.AuditEvent{
		AccountID: p.AccountID, Time: s.now().UTC(), Kind: EventSessionDeleted, ClientAddress: client,
	})
}

// Audit event kinds written by this package.
const (
	EventSessionCreated = "session.created"
	EventSessionDeleted = "session.deleted"
	EventSignInFailed   = "signin.failed"
)

// newID returns a random account id: 130 bits in lowercase base32.
func newID() string {
	return strings.ToLower(rand.Text())
}

// fillEmailKeys gives every account stored without a key in the database
// its key (emailKey of its email, as store.Account.EmailKey), once, at
// start: folding is Go code the database cannot run. Accounts whose keys
// collide (ÉLODIE and élodie were two accounts to COLLATE NOCASE) are
// logged and each given a key no email maps to (the key, NUL, its id):
// neither is found under the other's spelling, each still signs in with
// its own as typed (lookup), and the key stays taken, so that nobody
// registers it anew and takes their sign-ins. Which of them is the
// person's is an operator's call.
func fillEmailKeys(db store.Accounts, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	legacy, err := db.AccountsWithoutEmailKey(ctx)
	if err != nil {
		return fmt.Errorf("account: fill email keys: %w", err)
	}
	byKey := map[string][]store.Account{}
	var keys []string
	for _, a := range legacy {
		k := emailKey(a.Email)
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], a)
	}
	for _, k := range keys {
		accts := byKey[k]
		if len(accts) == 1 {
			err := db.SetEmailKey(ctx, accts[0].ID, k)
			if !errors.Is(err, store.ErrConflict) {
				if err != nil {
					return fmt.Errorf("account: fill email keys: %w", err)
				}
				continue
			}
			// Taken by an account made since (by an older instance
			// sharing the database): that one keeps it.
		}
		ids := make([]string, len(accts))
		for i, a := range accts {
			ids[i] = a.ID
			if err := db.SetEmailKey(ctx, a.ID, k+"\x00"+a.ID); err != nil {
				return fmt.Errorf("account: fill email keys: %w", err)
			}
		}
		log.WarnContext(ctx, "accounts whose emails are one address once folded: each signs in only with its email as stored",
			"accounts", strings.Join(ids, ","))
	}
	return nil
}
