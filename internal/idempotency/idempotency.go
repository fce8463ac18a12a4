// Package idempotency holds the rules of the Idempotency-Key header: what
// a key may look like, how long its first result is kept, how a request
// is recognised as the same one, and the refusals a retry can meet. The
// server's interceptor applies them with the store.
package idempotency

import (
	"crypto/sha256"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"
)

// Header carries the key (REST: Idempotency-Key; gRPC: idempotency-key).
const Header = "idempotency-key"

// TTL is how long a key's first result is kept, and a retry recognised.
const TTL = 24 * time.Hour

// MaxKeyBytes bounds a key; Stripe and the IETF draft use the same order.
const MaxKeyBytes = 255

// The refusals a request with a key can meet; their messages are shown.
var (
	// ErrInvalidKey: empty, longer than MaxKeyBytes, or not printable ASCII.
	ErrInvalidKey = errors.New("Idempotency-Key must be 1 to 255 printable ASCII characters")
	// ErrReused: the key came before with a different request.
	ErrReused = errors.New("this Idempotency-Key was used with a different request in the last 24 hours; use a new key")
	// ErrInProgress: the key's first request has not finished.
	ErrInProgress = errors.New("a request with this Idempotency-Key is still running; retry when it has finished")
)

// ValidKey reports whether k may be used as a key: 1 to MaxKeyBytes bytes
// of printable ASCII, which is also what gRPC metadata can carry.
func ValidKey(k string) bool {
	if k == "" || len(k) > MaxKeyBytes {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// RequestHash identifies a request to method: the same hash means the same
// method with the same fields.
func RequestHash(method string, req proto.Message) ([]byte, error) {
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(method+"\x00"), body...))
	return sum[:], nil
}
