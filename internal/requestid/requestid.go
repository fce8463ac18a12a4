// Package requestid gives every request an id that appears in its response,
// its error body and every log line about it, so a customer's report can be
// matched to the server's log.
package requestid

import (
	"context"
	"crypto/rand"
	"strings"
)

// Header is the HTTP header and gRPC metadata key that carries the id.
const Header = "x-request-id"

type key struct{}

// New returns a fresh random id (26 characters of base32).
func New() string { return strings.ToLower(rand.Text()) }

// Valid reports whether a caller's id is kept: 1 to 64 of [A-Za-z0-9._-],
// which covers UUIDs, ULIDs and most tracing ids and cannot inject
// anything into a log line or a header. Both doors apply it; any other
// value is replaced by New.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
