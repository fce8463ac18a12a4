package account

import (
	"context"
	"errors"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
)

// Export is everything stored about an account, for the owner to take
// away (GDPR article 20): one field for each place the store keeps
// something of the account. Password and secret hashes are left out: they
// are ours, not personal data the owner could use; so are the stored
// results of idempotent calls, which are the owner's own images, already
// delivered, and kept for a day only to answer retries.
type Export struct {
	Account store.Account
	// Keys are the live keys, oldest first; RevokedKeys the revoked ones,
	// which stay stored because the audit log and the ledger name them.
	Keys, RevokedKeys []store.APIKey
	// Sessions are the stored sessions, oldest first, expired ones not yet
	// swept included.
	Sessions []store.Session
	// AuditEvents is the whole audit log, newest first.
	AuditEvents []store.AuditEvent
	// Ledger is every credit movement of every period, oldest first.
	Ledger []store.LedgerEntry
	// IdempotentCalls are the calls made with an Idempotency-Key that are
	// still stored, in key order, without request hash, response or header.
	IdempotentCalls []store.IdempotentCall
}

// exportPage is how many rows Export reads at a time from the tables that
// grow without bound.
const exportPage = 500

// Export gathers everything stored about the caller's account.
func (s *Service) Export(ctx context.Context, p auth.Principal) (Export, error) {
	if p.SessionID == "" {
		return Export{}, auth.ErrSessionRequired
	}
	acct, err := s.store.Account(ctx, p.AccountID)
	if err != nil {
		return Export{}, err
	}
	acct.PasswordHash = ""
	ex := Export{Account: acct}

	keys, err := s.store.AllAPIKeys(ctx, p.AccountID)
	if err != nil {
		return Export{}, err
	}
	for _, k := range keys {
		k.SecretHash, k.PreviousSecretHash = nil, nil
		if k.RevokeTime.IsZero() {
			ex.Keys = append(ex.Keys, k)
		} else {
			ex.RevokedKeys = append(ex.RevokedKeys, k)
		}
	}

	if ex.Sessions, err = s.store.Sessions(ctx, p.AccountID); err != nil {
		return Export{}, err
	}
	for i := range ex.Sessions {
		ex.Sessions[i].SecretHash = nil
	}

	for before := int64(0); ; {
		page, err := s.store.AuditEvents(ctx, p.AccountID, before, exportPage)
		if err != nil {
			return Export{}, err
		}
		ex.AuditEvents = append(ex.AuditEvents, page...)
		if len(page) < exportPage {
			break
		}
		before = page[len(page)-1].ID
	}

	for after := int64(0); ; {
		page, err := s.store.AllLedgerEntries(ctx, p.AccountID, after, exportPage)
		if err != nil {
			return Export{}, err
		}
		ex.Ledger = append(ex.Ledger, page...)
		if len(page) < exportPage {
			break
		}
		after = page[len(page)-1].ID
	}

	for after := ""; ; {
		page, err := s.store.IdempotentCalls(ctx, p.AccountID, after, exportPage)
		if err != nil {
			return Export{}, err
		}
		for _, c := range page {
			c.RequestHash, c.Response, c.Header = nil, nil, nil
			ex.IdempotentCalls = append(ex.IdempotentCalls, c)
		}
		if len(page) < exportPage {
			break
		}
		after = page[len(page)-1].Key
	}
	return ex, nil
}

// ErrWrongPassword refuses an erasure whose password does not match.
var ErrWrongPassword = errors.New("the password is incorrect")

// Delete erases the caller's account and everything stored of it (see
// store.Store.DeleteAccount).
// It needs a session and the password again, so that a stolen session
// token alone cannot destroy an account.
func (s *Service) Delete(ctx context.Context, p auth.Principal, password string) error {
	if p.SessionID == "" {
		return auth.ErrSessionRequired
	}
	acct, err := s.store.Account(ctx, p.AccountID)
	if err != nil {
		return err
	}
	// Guessing the password through a stolen session is throttled like
	// signing in: the attempt takes its place before the hash.
	// A blocked account is refused on a read, and one account holds few
	// places in the hashing queue, so that a flood through a stolen
	// session makes nobody else's sign-in busy.
	limit := erasures.On(p.AccountID)
	if err := s.throttle.Check(ctx, limit); err != nil {
		return err
	}
	turn, err := s.hasher.QueueFor("account:" + p.AccountID)
	if err != nil {
		return err
	}
	defer turn.Leave()
	res, err := s.throttle.Reserve(ctx, limit)
	if err != nil {
		return err
	}
	defer res.Release(ctx) // when neither kept nor forgotten below
	switch err := turn.Check(ctx, acct.PasswordHash, password); {
	case errors.Is(err, auth.ErrPasswordMismatch):
		if err := res.Keep(ctx); err != nil {
			return err
		}
		return ErrWrongPassword
	case err != nil:
		return err
	}
	if err := res.Forget(ctx, erasures); err != nil {
		return err
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
