// Package auth knows how callers prove who they are: the API key format,
// how keys and passwords are hashed, how a presented key is verified, and
// the Principal that a verified request carries in its context.
package auth

import (
	"context"
	"errors"
	"slices"
)

// Scopes a key may hold. A method names the one it needs.
const (
	ScopeImagesEnhance  = "images:enhance"
	ScopeImagesUpscale  = "images:upscale"
	ScopeImagesColorize = "images:colorize"
	ScopeKeysManage     = "keys:manage"
	ScopeUsageRead      = "usage:read"
)

// DefaultScopes are those of an account's first key: every image operation
// and reading usage, but not managing keys.
var DefaultScopes = []string{ScopeImagesEnhance, ScopeImagesUpscale, ScopeImagesColorize, ScopeUsageRead}

// SessionScopes are what a signed-in account owner may do with a session
// token: manage keys and read usage. Image calls need an API key.
var SessionScopes = []string{ScopeKeysManage, ScopeUsageRead}

// AllScopes lists every scope, in the order documentation shows them.
var AllScopes = []string{ScopeImagesEnhance, ScopeImagesUpscale, ScopeImagesColorize, ScopeKeysManage, ScopeUsageRead}

// ErrUnauthenticated is wrapped by every verification failure. Callers show
// one generic message for all of them; the wrapped reason is for the log.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// ErrSessionRequired refuses an API key on a method that is the signed-in
// owner's alone; its message says how to get a session.
var ErrSessionRequired = errors.New("this method needs a session, not an API key: sign in with POST /v1/sessions and send Authorization: Bearer <token>")

// ErrMissingScope is what every ScopeError is.
var ErrMissingScope = errors.New("missing scope")

// ScopeError refuses a credential that lacks a method's scope; its
// message, shown to the caller, names the scope.
type ScopeError struct {
	Scope string
	// Session is true when the credential was a session token.
	Session bool
}

func (e *ScopeError) Error() string {
	if e.Session {
		return "a session lacks the scope " + e.Scope + ": image methods need an API key"
	}
	return "this API key lacks the scope " + e.Scope
}

// Is makes errors.Is(err, ErrMissingScope) hold.
func (e *ScopeError) Is(target error) bool { return target == ErrMissingScope }

// Principal is the verified caller of a request.
type Principal struct {
	AccountID string
	// KeyID is set when the caller used an API key, SessionID when it used
	// a session token; never both.
	KeyID     string
	SessionID string
	Scopes    []string
	// Plan is the account's plan when the caller used an API key (for
	// rate limits); it may be up to CacheTTL old.
	Plan string
}

// Has reports whether the principal holds scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of an authenticated request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
