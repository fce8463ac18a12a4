// Package store defines the service's persistent domain types and the
// interfaces that every database implementation satisfies. It imports only
// the standard library so that domain packages can depend on it freely.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every implementation, so callers can match
// them with errors.Is whatever database is underneath.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique value (such as an email) is already taken.
	ErrConflict = errors.New("store: conflict")
)

// Account is a customer of the service.
type Account struct {
	ID           string
	Email        string
	PasswordHash string
	CreateTime   time.Time
}

// APIKey is one credential of an account. The secret itself is never kept:
// only SecretHash, the SHA-256 of it.
type APIKey struct {
	ID          string
	AccountID   string
	DisplayName string
	SecretHash  []byte
	Scopes      []string
	CreateTime  time.Time
	// ExpireTime is zero when the key never expires.
	ExpireTime time.Time
	// RevokeTime is zero while the key has not been revoked.
	RevokeTime time.Time
}

// Store is the persistent state of the service.
type Store interface {
	// CreateAccount stores an account together with its first key, both or
	// neither. An email already registered gives ErrConflict.
	CreateAccount(ctx context.Context, account Account, key APIKey) error
	// AccountCount reports how many accounts exist.
	AccountCount(ctx context.Context) (int, error)
	// APIKey finds a key by its id, revoked or not; ErrNotFound if absent.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
