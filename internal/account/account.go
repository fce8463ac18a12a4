// Package account is what an account owner does with their account:
// register (with a first API key), sign in and out of sessions, export
// everything stored about them, and erase it.
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

// Throttling defaults: sign-in failures per account and per client
// address, and registrations per client address.
const (
	signInFailuresPerAccount = 5
	signInFailuresPerAddress = 20
	signInWindow             = 15 * time.Minute
	registrationsPerAddress  = 5
	registrationWindow       = time.Hour
)

// Config assembles a Service.
type Config struct {
	Store store.Store
	Codec *auth.Codec
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// RegistrationClosed refuses new accounts (the operator's switch).
	RegistrationClosed bool
	// Forget drops a key from the verification cache (auth.Verifier), so
	// that an erased account's keys stop at once.
	Forget func(keyID string)
}

// Service registers accounts and manages their sessions.
type Service struct {
	store  store.Store
	codec  *auth.Codec
	now    func() time.Time
	closed bool
	forget func(keyID string)
	// dummyHash is checked against when an email is unknown, so that a
	// failed sign-in takes as long whether or not the account exists.
	dummyHash string

	signInByAccount *throttle.Limiter
	signInByAddress *throttle.Limiter
	registrations   *throttle.Limiter
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Codec == nil {
		return nil, errors.New("account: needs a store and a codec")
	}
	if cfg.Forget == nil {
		cfg.Forget = func(string) {}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	dummy, err := auth.HashPassword(rand.Text())
	if err != nil {
		return nil, err
	}
	return &Service{
		store: cfg.Store, codec: cfg.Codec, now: now, closed: cfg.RegistrationClosed, dummyHash: dummy, forget: cfg.Forget,
		signInByAccount: throttle.New(signInFailuresPerAccount, signInWindow, signInWindow, now),
		signInByAddress: throttle.New(signInFailuresPerAddress, signInWindow, signInWindow, now),
		registrations:   throttle.New(registrationsPerAddress, registrationWindow, registrationWindow, now),
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
func (s *Service) Register(ctx context.Context, email, password, client string) (Registered, error) {
	if s.closed && client != "" {
		return Registered{}, ErrRegistrationClosed
	}
	if client != "" {
		if left, blocked := s.registrations.Blocked(client); blocked {
			return Registered{}, &throttle.Error{What: "registrations from this address", RetryAfter: left}
		}
	}
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
	key, err := s.codec.New(auth.APIKey)
	if err != nil {
		return Registered{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	acct := store.Account{ID: newID(), Email: email, PasswordHash: hash, CreateTime: now}
	info := store.APIKey{
		ID:          key.ID,
		AccountID:   acct.ID,
		DisplayName: "default",
		SecretHash:  key.SecretHash(),
		Scopes:      auth.DefaultScopes,
		CreateTime:  now,
	}
	if err := s.store.CreateAccount(ctx, acct, info); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Registered{}, ErrEmailTaken
		}
		return Registered{}, err
	}
	if client != "" {
		// Counted on success: a mistyped form should not lock anyone out.
		s.registrations.Fail(client)
	}
	return Registered{Account: acct, Key: info, Secret: s.codec.Format(key)}, nil
}

// SignedIn is a new session; Token is its secret, shown this once.
type SignedIn struct {
	Session store.Session
	Token   string
}

// SignIn checks email and password and opens a session. Every failure is
// ErrBadCredentials (or a throttle.Error once there are too many), so the
// answer never tells whether the email exists.
func (s *Service) SignIn(ctx context.Context, email, password, client string) (SignedIn, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if left, blocked := s.signInByAddress.Blocked(client); blocked {
		return SignedIn{}, &throttle.Error{What: "failed sign-ins from this address", RetryAfter: left}
	}
	if left, blocked := s.signInByAccount.Blocked(email); blocked {
		return SignedIn{}, &throttle.Error{What: "failed sign-ins for this account", RetryAfter: left}
	}
	acct, err := s.store.AccountByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = auth.CheckPassword(s.dummyHash, password)
		s.signInFailed(ctx, "", email, client)
		return SignedIn{}, ErrBadCredentials
	case err != nil:
		return SignedIn{}, err
	}
	if auth.CheckPassword(acct.PasswordHash, password) != nil {
		s.signInFailed(ctx, acct.ID, email, client)
		return SignedIn{}, ErrBadCredentials
	}
	s.signInByAccount.Reset(email)
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

func (s *Service) signInFailed(ctx context.Context, accountID, email, client string) {
	s.signInByAccount.Fail(email)
	s.signInByAddress.Fail(client)
	if accountID != "" {
		// Best effort: a failed audit write must not change the answer.
		_ = s.store.RecordAudit(ctx, store.AuditEvent{
			AccountID: accountID, Time: s.now().UTC(), Kind: EventSignInFailed, ClientAddress: client, Reason: "wrong password",
		})
	}
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
