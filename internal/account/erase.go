package account

import (
	"context"
	"errors"
	"strings"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/throttle"
)

// Export is everything stored about an account, for the owner to take
// away (GDPR article 20). Password and secret hashes are left out: they
// are ours, not personal data the owner could use.
type Export struct {
	Account     store.Account
	Keys        []store.APIKey
	AuditEvents []store.AuditEvent
}

// Export gathers the caller's account, keys and audit log.
func (s *Service) Export(ctx context.Context, p auth.Principal) (Export, error) {
	if p.SessionID == "" {
		return Export{}, ErrSessionRequired
	}
	acct, err := s.store.Account(ctx, p.AccountID)
	if err != nil {
		return Export{}, err
	}
	acct.PasswordHash = ""
	keys, err := s.store.APIKeys(ctx, p.AccountID)
	if err != nil {
		return Export{}, err
	}
	for i := range keys {
		keys[i].SecretHash, keys[i].PreviousSecretHash = nil, nil
	}
	var events []store.AuditEvent
	before := int64(0)
	for {
		page, err := s.store.AuditEvents(ctx, p.AccountID, before, 500)
		if err != nil {
			return Export{}, err
		}
		events = append(events, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].ID
	}
	return Export{Account: acct, Keys: keys, AuditEvents: events}, nil
}

// ErrWrongPassword refuses an erasure whose password does not match.
var ErrWrongPassword = errors.New("the password is incorrect")

// Delete erases the caller's account, its keys, sessions and audit log.
// It needs a session and the password again, so that a stolen session
// token alone cannot destroy an account.
func (s *Service) Delete(ctx context.Context, p auth.Principal, password string) error {
	if p.SessionID == "" {
		return ErrSessionRequired
	}
	acct, err := s.store.Account(ctx, p.AccountID)
	if err != nil {
		return err
	}
	// Guessing the password through a stolen session is throttled like
	// signing in.
	if left, blocked := s.signInByAccount.Blocked(strings.ToLower(acct.Email)); blocked {
		return &throttle.Error{What: "failed password checks for this account", RetryAfter: left}
	}
	if auth.CheckPassword(acct.PasswordHash, password) != nil {
		s.signInByAccount.Fail(strings.ToLower(acct.Email))
		return ErrWrongPassword
	}
	keys, err := s.store.APIKeys(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteAccount(ctx, p.AccountID); err != nil {
		return err
	}
	for _, k := range keys {
		s.forget(k.ID)
	}
	return nil
}
