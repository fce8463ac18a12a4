// Package access says what each API method asks of its caller: no
// credential, a scope, or a signed-in session, and whether it honours an
// Idempotency-Key. The service implementations own the table; the gRPC
// interceptors read it, so neither imports the other.
package access

import (
	"fmt"
	"slices"
	"strings"
)

// Rule is what one method asks of its caller.
type Rule struct {
	// Public methods need no credential.
	Public bool
	// Scope the caller must hold: an API key's scopes, or a session's
	// (auth.SessionScopes).
	Scope string
	// SessionOnly methods refuse API keys: they are the signed-in owner's.
	SessionOnly bool
	// Idempotent methods honour an Idempotency-Key.
	Idempotent bool
	// Bucket is the rate-limit quota the method draws on: ImagesBucket,
	// or ("") AccountBucket.
	Bucket string
}

// The rate-limit buckets: image work, and everything else (usage,
// pricing, keys, the account), so that a client backing off from image
// calls can still read its balance.
const (
	ImagesBucket  = "images"
	AccountBucket = "account"
)

// BucketOf is the bucket a method with rule r draws on.
func (r Rule) BucketOf() string {
	if r.Bucket == "" {
		return AccountBucket
	}
	return r.Bucket
}

// Table maps full method names ("/package.Service/Method") to their rules.
// A method missing from it is refused, so a new method must be given a
// rule before anyone can call it.
type Table map[string]Rule

// Lookup returns the rule of method and whether it has one.
func (t Table) Lookup(method string) (Rule, bool) {
	r, ok := t[method]
	return r, ok
}

// Covers reports every method of services (service name to method names,
// as grpc.Server.GetServiceInfo lists them) that has no rule, so that a
// server refuses to start with a method nobody decided about.
func (t Table) Covers(services map[string][]string) error {
	var missing []string
	for service, methods := range services {
		for _, m := range methods {
			full := "/" + service + "/" + m
			if _, ok := t[full]; !ok {
				missing = append(missing, full)
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("access: no rule for %s", strings.Join(missing, ", "))
	}
	return nil
}
