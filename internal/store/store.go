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
	// ErrLimit means a per-account limit (such as the number of keys) is
	// reached.
	ErrLimit = errors.New("store: limit reached")
	// ErrInsufficientCredits means a charge exceeds the period's balance.
	ErrInsufficientCredits = errors.New("store: insufficient credits")
	// ErrUnavailable means the database cannot be reached (a network
	// database that is down or unreachable): the request may be retried,
	// and nothing was written.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Account is a customer of the service.
type Account struct {
	ID           string
	Email        string
	PasswordHash string
	CreateTime   time.Time
	// Plan names the account's plan ("free" unless an operator changed it).
	Plan string
	// EmailKey is what the email is unique by: Email with its local part
	// case-folded (account.emailKey), so that Email keeps the owner's
	// spelling while its other spellings are one account. Empty for an
	// account stored before it existed and not yet filled in.
	EmailKey string
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
	// LastUseTime is when the key last authenticated a request (zero:
	// never); written in batches, so up to a flush interval behind.
	LastUseTime time.Time
	// PreviousSecretHash is the hash of the secret a rotation replaced; it
	// keeps working until PreviousExpireTime.
	PreviousSecretHash []byte
	PreviousExpireTime time.Time
}

// Session is a signed-in dashboard or CLI user. Like keys, only the hash
// of its secret is kept.
type Session struct {
	ID            string
	AccountID     string
	SecretHash    []byte
	CreateTime    time.Time
	ExpireTime    time.Time
	ClientAddress string
}

// AuditEvent is one security-relevant event: a key created, renamed,
// rotated or revoked, a session opened or closed, a failed
// authentication. AccountID is empty for a failure that names no known
// key.
type AuditEvent struct {
	ID            int64
	AccountID     string
	Time          time.Time
	Kind          string
	KeyID         string
	ClientAddress string
	Reason        string
}

// Ledger entry kinds and charge states.
const (
	EntryCharge = "charge"
	EntryRefund = "refund"
	EntryGrant  = "grant"

	ChargePending  = "pending"
	ChargeFinal    = "final"
	ChargeRefunded = "refunded"

	// RefundFailed: the request failed, was refused or was cancelled.
	RefundFailed = "failed"
	// RefundInterrupted: the process running the request died.
	RefundInterrupted = "interrupted"
	// RefundStale: the charge outlived any request (a process that died
	// before charges named their process).
	RefundStale = "stale"
)

// LedgerEntry is one movement of credits in an account's period.
type LedgerEntry struct {
	ID          int64
	AccountID   string
	KeyID       string
	PeriodStart time.Time
	Kind        string
	Amount      int
	Operation   string
	RequestID   string
	// State is a charge's state; "" for refunds and grants.
	State string
	// Instance is the server process that holds a pending charge, so that
	// its charges are refunded at once when it dies ("" for other entries).
	Instance string
	// Reason says why a refund was made (RefundFailed, RefundInterrupted,
	// RefundStale); "" for charges and grants.
	Reason string
	// RefundOf is the charge a refund returns; 0 otherwise.
	RefundOf int64
	Time     time.Time
}

// Balance is an account's standing in one period.
type Balance struct {
	// Granted is the plan's grant plus operator grants.
	Granted int
	// Used is charges (pending ones included) less refunds.
	Used int
}

// Remaining is what may still be charged.
func (b Balance) Remaining() int { return b.Granted - b.Used }

// Totals are the sums of an account's period by kind, kept twice: as a
// counter maintained with every ledger write (what Reserve and Balance
// read, in constant time) and as the ledger's own sums, which Reconcile
// compares it with.
type Totals struct {
	// Charged is every charge, pending ones included.
	Charged int
	// Refunded is every refund.
	Refunded int
	// Granted is the operator grants; the plan's grant is not stored.
	Granted int
}

// Mismatch is an account's period whose counter does not add up to its
// ledger: a store bug, or a hand edit of the database. A period with
// ledger entries and no counter, or the reverse, compares with zero
// totals.
type Mismatch struct {
	AccountID   string
	PeriodStart time.Time
	Counter     Totals
	Ledger      Totals
}

// IdempotentCall is a request made with an Idempotency-Key.
type IdempotentCall struct {
	AccountID string
	Key       string
	// RequestHash identifies the method and request, so that the same
	// key with a different request is told apart.
	RequestHash []byte
	// Done is false while the first request runs.
	Done bool
	// Instance is the server process running the first request, so that
	// the key is freed at once when it dies.
	Instance string
	// Response and Header are the first result, once Done.
	Response, Header []byte
	CreateTime       time.Time
}

// KeyUpdate changes a key inside a transaction; returning an error aborts
// it and leaves the key as it was.
type KeyUpdate func(k *APIKey) error

// The roles below are the parts of the database each package uses: a
// package takes only the roles it needs, so what it can touch is plain
// from its constructor. Store is all of them, which only the composition
// root (and the conformance suite) holds.

// Accounts are the customers and their plans.
type Accounts interface {
	// CreateAccount stores an account together with its first key, both or
	// neither. An email already registered gives ErrConflict.
	CreateAccount(ctx context.Context, account Account, key APIKey) error
	// AccountCount reports how many accounts exist.
	AccountCount(ctx context.Context) (int, error)
	// Account finds an account by id; ErrNotFound if absent.
	Account(ctx context.Context, id string) (Account, error)
	// AccountByEmail finds an account by email, ignoring case.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// AccountByEmailKey finds an account by its EmailKey; ErrNotFound if
	// absent.
	AccountByEmailKey(ctx context.Context, key string) (Account, error)
	// AccountsWithoutEmailKey lists the accounts whose EmailKey is not
	// filled in (stored before it existed).
	AccountsWithoutEmailKey(ctx context.Context) ([]Account, error)
	// SetEmailKey fills in an account's EmailKey; ErrConflict when another
	// account holds it (CreateAccount likewise), or holds key + "\x00" +
	// its id: a legacy collision, which keeps key taken.
	SetEmailKey(ctx context.Context, id, key string) error
	// DeleteAccount erases an account with everything stored of it: keys,
	// sessions, audit events, ledger entries and idempotent calls.
	DeleteAccount(ctx context.Context, id string) error
	// SetPlan changes an account's plan.
	SetPlan(ctx context.Context, accountID, plan string) error
}

// Keys are the accounts' API keys.
type Keys interface {
	// APIKey finds a key by its id, revoked or not; ErrNotFound if absent.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// CreateAPIKey stores a key and its audit event, both or neither;
	// ErrLimit when the account already holds maxKeys live keys.
	CreateAPIKey(ctx context.Context, key APIKey, event AuditEvent, maxKeys int) error
	// APIKeys lists an account's keys that are not revoked, oldest first.
	APIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	// AllAPIKeys lists every key an account holds, revoked ones included,
	// oldest first: revoked keys stay stored (their ids are in the audit
	// log and the ledger), so an export must show them.
	AllAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	// UpdateAPIKey applies update to the account's live key id and records
	// event, atomically; ErrNotFound when the key is revoked, absent or
	// another account's.
	UpdateAPIKey(ctx context.Context, accountID, id string, update KeyUpdate, event AuditEvent) (APIKey, error)
	// TouchAPIKeys records last-use times in one write.
	TouchAPIKeys(ctx context.Context, lastUse map[string]time.Time) error
}

// Sessions are signed-in owners' sessions.
type Sessions interface {
	// CreateSession stores a session and its audit event.
	CreateSession(ctx context.Context, s Session, event AuditEvent) error
	// Session finds a session by id; ErrNotFound if absent.
	Session(ctx context.Context, id string) (Session, error)
	// DeleteSession ends a session and records event; ErrNotFound if absent.
	DeleteSession(ctx context.Context, id string, event AuditEvent) error
	// Sessions lists an account's stored sessions oldest first, expired
	// ones that are not yet swept included, for an export.
	Sessions(ctx context.Context, accountID string) ([]Session, error)
}

// Ledger is the credit ledger: charges, refunds and grants per period,
// append-only but for a charge's state, beside one counter per account and
// period (Totals) that every ledger write updates in its transaction, so
// that a balance costs the same at the millionth entry as at the first.
type Ledger interface {
	// Reserve records charge (pending) if the period's balance covers it,
	// in one transaction, so concurrent reservations never overspend;
	// planGrants gives each plan's grant per period. It returns the
	// balance after the charge, or ErrInsufficientCredits and the balance
	// as it is.
	Reserve(ctx context.Context, charge LedgerEntry, planGrants map[string]int) (LedgerEntry, Balance, error)
	// Settle finishes a pending charge: final when commit, else refunded
	// with a refund entry at time at. A charge that is no longer pending
	// is left alone, so it is never settled twice: a commit of a final
	// charge succeeds (idempotent: a commit whose reply was lost may be
	// sent again), anything else gives ErrNotFound.
	Settle(ctx context.Context, chargeID int64, commit bool, at time.Time) error
	// RefundStale refunds every charge still pending from before cutoff
	// (its request died with a server), returning how many.
	RefundStale(ctx context.Context, cutoff, at time.Time) (int, error)
	// RefundInterrupted refunds every charge still pending in the process
	// instanceID, which has died, returning how many.
	RefundInterrupted(ctx context.Context, instanceID string, at time.Time) (int, error)
	// Grant adds operator credits to an account's period.
	Grant(ctx context.Context, grant LedgerEntry) error
	// Balance is the account's standing in the period starting at periodStart.
	Balance(ctx context.Context, accountID string, periodStart time.Time, planGrants map[string]int) (Balance, error)
	// LedgerEntries lists a period's entries oldest first, those with ids
	// above after, at most limit.
	LedgerEntries(ctx context.Context, accountID string, periodStart time.Time, after int64, limit int) ([]LedgerEntry, error)
	// AllLedgerEntries lists an account's entries of every period in id
	// order, those with ids above after, at most limit: the whole ledger,
	// page by page, for an export.
	AllLedgerEntries(ctx context.Context, accountID string, after int64, limit int) ([]LedgerEntry, error)
	// Reconcile checks every account's period counter against the sums of
	// its ledger entries, read at one instant, and returns those that
	// differ ordered by account and period (none: everything adds up). It
	// reads the whole ledger: an operator's check, not a request's.
	Reconcile(ctx context.Context) ([]Mismatch, error)
}

// Idempotency keeps the first results of calls made with an
// Idempotency-Key.
type Idempotency interface {
	// BeginIdempotent records call as running unless the account already
	// has a call under the same key, which it returns instead (found is
	// true). Calls created before expired, and running ones created before
	// abandoned (their server died), count as absent and are replaced.
	BeginIdempotent(ctx context.Context, call IdempotentCall, expired, abandoned time.Time) (existing IdempotentCall, found bool, err error)
	// FinishIdempotent stores the first result of call, the running call
	// its caller began (BeginIdempotent's argument): its AccountID, Key,
	// Instance and CreateTime name it. ErrNotFound when that call is no
	// longer running: finished, or abandoned and perhaps replaced by a
	// retry's, which is left alone.
	FinishIdempotent(ctx context.Context, call IdempotentCall, response, header []byte) error
	// AbandonIdempotent forgets call, a running call its caller began
	// that failed, so that a retry runs again; a call begun by anyone
	// else under the same key (a retry's, once call was taken for dead)
	// is left alone.
	AbandonIdempotent(ctx context.Context, call IdempotentCall) error
	// AbandonInstanceCalls forgets every call still running in the process
	// instanceID, which has died, returning how many.
	AbandonInstanceCalls(ctx context.Context, instanceID string) (int, error)
	// IdempotentCalls lists an account's stored calls in key order, those
	// with keys above after, at most limit, expired ones that are not yet
	// swept included. Response, Header and RequestHash are left empty: a
	// stored response can be a whole image, and an export lists the calls,
	// not their results.
	IdempotentCalls(ctx context.Context, accountID, after string, limit int) ([]IdempotentCall, error)
	// SweepIdempotent deletes calls created before expired.
	SweepIdempotent(ctx context.Context, expired time.Time) (int, error)
}

// Audit is the security log.
type Audit interface {
	// RecordAudit appends an event.
	RecordAudit(ctx context.Context, event AuditEvent) error
	// AuditEvents lists an account's events newest first, those with ids
	// below before (0: from the newest), at most limit.
	AuditEvents(ctx context.Context, accountID string, before int64, limit int) ([]AuditEvent, error)
}

// Secrets are server secrets shared by every instance.
type Secrets interface {
	// Secret returns the named server secret, creating it with generate on
	// first use; every instance sharing the database gets the same value.
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}

// Instances tells live server processes sharing the database from dead
// ones, so that what a dead one held is released at once.
type Instances interface {
	// Hold marks the calling process, instanceID, alive until release is
	// called or the process ends, however it ends.
	Hold(ctx context.Context, instanceID string) (release func() error, err error)
	// Alive reports whether instanceID holds its mark.
	Alive(ctx context.Context, instanceID string) (bool, error)
	// Holders lists the processes named by pending charges or running
	// idempotent calls.
	Holders(ctx context.Context) ([]string, error)
}

// ThrottleLimit bounds the attempts of one key: a client address, or an
// account seen from one address. Attempts are counted from the first one
// in a window; the one that brings the count to Limit blocks the key for
// Block, and once past the limit each further counted attempt doubles
// the block, up to MaxBlock (Block stays fixed when MaxBlock is not above
// it). In-flight attempts count as if they were counted, so that
// requests in flight together cannot all pass a check that only their
// results would have failed.
type ThrottleLimit struct {
	Key    string
	Limit  int
	Window time.Duration
	// Block and MaxBlock: see the type's comment.
	Block, MaxBlock time.Duration
}

// ThrottleOutcome is what becomes of a reserved attempt under one key.
type ThrottleOutcome int

const (
	// ThrottleRelease: the attempt does not count (it succeeded, or never
	// reached the work the limit guards).
	ThrottleRelease ThrottleOutcome = iota
	// ThrottleKeep: the attempt counts (a failure, or a registration).
	ThrottleKeep
	// ThrottleReset: the attempt does not count, and the key's counted
	// attempts are forgotten (a sign-in that succeeded).
	ThrottleReset
)

// ThrottledError refuses an attempt: Key is the limit's key that refused
// it, RetryAfter when it may pass (at least a second).
type ThrottledError struct {
	Key        string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "store: throttled " + e.Key + " for " + e.RetryAfter.String()
}

// Throttles counts attempts per key in the database, so that a check and
// its record are one step and every instance sharing the database sees
// the same counts.
type Throttles interface {
	// ReserveAttempt checks every limit at now and, only if all allow it,
	// records one in-flight attempt under each key, in one transaction.
	// It returns the reservation, or a *ThrottledError naming the first
	// limit that refused (and records nothing). An attempt still in
	// flight at expire (its process died) stops counting.
	ReserveAttempt(ctx context.Context, limits []ThrottleLimit, now, expire time.Time) (reservation int64, err error)
	// SettleAttempt ends a reservation made with limits: outcomes gives,
	// by key, what becomes of the attempt (a key absent: released).
	// Settling a reservation twice, or after it expired, changes nothing.
	SettleAttempt(ctx context.Context, reservation int64, limits []ThrottleLimit, outcomes map[string]ThrottleOutcome, now time.Time) error
	// CheckAttempt reports, recording nothing, whether the limits would
	// let an attempt pass at now: nil, or a *ThrottledError.
	CheckAttempt(ctx context.Context, limits []ThrottleLimit, now time.Time) error
}

// Store is the persistent state of the service: every role, and the
// database's own life.
type Store interface {
	Accounts
	Keys
	Sessions
	Ledger
	Idempotency
	Audit
	Secrets
	Instances
	Throttles

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}
