package auth

import "errors"

// Reasons a credential is refused: a small fixed set, so that they can
// label a metric (enhance_auth_failures_total) and a log line. A reason
// never carries any part of the credential.
const (
	ReasonNoKey        = "no_key"
	ReasonMalformed    = "malformed"
	ReasonUnknownKey   = "unknown_key"
	ReasonWrongSecret  = "wrong_secret"
	ReasonRevoked      = "revoked"
	ReasonExpired      = "expired"
	ReasonMissingScope = "missing_scope"
	// ReasonOther is any other refusal; none is expected.
	ReasonOther = "other"
)

// failure is a refused credential: it wraps ErrUnauthenticated, with a
// message for the log and one of the reasons above.
type failure struct {
	reason, msg string
}

func (f *failure) Error() string { return ErrUnauthenticated.Error() + ": " + f.msg }

// Unwrap makes errors.Is(err, ErrUnauthenticated) hold.
func (f *failure) Unwrap() error { return ErrUnauthenticated }

func refused(reason, msg string) error { return &failure{reason: reason, msg: msg} }

// Reason names why err refused a credential: one of the Reason
// constants.
func Reason(err error) string {
	var f *failure
	switch {
	case errors.As(err, &f):
		return f.reason
	case errors.Is(err, ErrMissingScope), errors.Is(err, ErrSessionRequired):
		return ReasonMissingScope
	}
	return ReasonOther
}
