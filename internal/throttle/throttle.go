// Package throttle refuses what is attempted too often: failed sign-ins,
// registrations, erasure password checks and failed authentications, per
// client address, per account seen from one address, or per account.
//
// The counts live in the database (store.Throttles), and a check and its
// record are one step there: an attempt reserves its place before the
// work it guards (a password hash) and the reservation is kept (the
// attempt counts) or released after it. Requests in flight together
// therefore cannot all pass a check that only their results would have
// failed, and instances sharing the database share the counts.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/store"
)

// Rule is one limit, applied per key: Limit attempts counted in Window
// (from the first), the one that reaches Limit blocking the key for
// Block; past the limit, each further counted attempt doubles the block
// up to MaxBlock (zero: Block stays fixed). Attempts in flight count.
type Rule struct {
	// Name keeps the keys of different rules apart ("signin-address").
	Name string
	// What is counted, for the refusal's message: "failed sign-ins from
	// this address".
	What            string
	Limit           int
	Window          time.Duration
	Block, MaxBlock time.Duration
}

// On is the rule applied to the key made of parts (an address; an email
// and an address). Only a hash of the parts is stored, so that no email
// outlives its account's erasure in the throttle tables.
func (r Rule) On(parts ...string) Key {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return Key{rule: r, key: r.Name + ":" + hex.EncodeToString(sum[:16])}
}

// Key is a rule applied to one key.
type Key struct {
	rule Rule
	key  string
}

func (k Key) limit() store.ThrottleLimit {
	return store.ThrottleLimit{Key: k.key, Limit: k.rule.Limit, Window: k.rule.Window, Block: k.rule.Block, MaxBlock: k.rule.MaxBlock}
}

// Hold is how long an attempt in flight counts if it is never settled
// (its process died): longer than any request runs.
const Hold = 10 * time.Minute

// settleTimeout bounds the write that settles an attempt. It runs even
// when the request's context has ended, so that a caller who hangs up as
// soon as the hash is done cannot keep its failure from counting.
const settleTimeout = 10 * time.Second

// Throttle takes and settles reservations in the store.
type Throttle struct {
	store store.Throttles
	now   func() time.Time
	// writes serialises this process's writes, so that a flood waits its
	// turn here, in order, and not in the database's lock, where SQLite's
	// busy handler sleeps ever longer between tries and one unlucky
	// writer (an image call's charge) can wait seconds while others pass.
	// It is a one-place channel, not a mutex, so that a request waits for
	// it only while its context lasts.
	writes chan struct{}
}

// New returns a Throttle; now is the clock (time.Now when nil).
func New(s store.Throttles, now func() time.Time) (*Throttle, error) {
	if s == nil {
		return nil, errors.New("throttle: needs a store")
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{store: s, now: now, writes: make(chan struct{}, 1)}, nil
}

// Reserve takes one attempt under every key at once, or none: a refusal
// is an *Error naming what the first refusing key counts.
func (t *Throttle) Reserve(ctx context.Context, keys ...Key) (*Reservation, error) {
	limits := limitsOf(keys)
	unlock, err := t.lock(ctx)
	if err != nil {
		return nil, err
	}
	now := t.now()
	id, err := t.store.ReserveAttempt(ctx, limits, now, now.Add(Hold))
	unlock()
	if err != nil {
		return nil, refusal(err, keys)
	}
	return &Reservation{t: t, id: id, keys: keys, limits: limits}, nil
}

// Check reports, recording nothing, whether keys would let an attempt
// pass now: nil, or an *Error.
func (t *Throttle) Check(ctx context.Context, keys ...Key) error {
	return refusal(t.store.CheckAttempt(ctx, limitsOf(keys), t.now()), keys)
}

// Fail counts one failed attempt under every key, if they let it pass,
// in one step: nil, or an *Error (and nothing counted). It is for work
// that costs less than the reservation would (checking a key), done
// before asking: see the authentication interceptor.
func (t *Throttle) Fail(ctx context.Context, keys ...Key) error {
	r, err := t.Reserve(ctx, keys...)
	if err != nil {
		return err
	}
	return r.Keep(ctx)
}

// lock waits for this process's turn to write, or until ctx ends.
func (t *Throttle) lock(ctx context.Context) (unlock func(), err error) {
	select {
	case t.writes <- struct{}{}:
		return func() { <-t.writes }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func limitsOf(keys []Key) []store.ThrottleLimit {
	limits := make([]store.ThrottleLimit, len(keys))
	for i, k := range keys {
		limits[i] = k.limit()
	}
	return limits
}

// refusal turns the store's refusal into an *Error naming what was
// counted; other errors pass through.
func refusal(err error, keys []Key) error {
	var te *store.ThrottledError
	if !errors.As(err, &te) {
		return err
	}
	what := "attempts"
	for _, k := range keys {
		if k.key == te.Key {
			what = k.rule.What
		}
	}
	return &Error{What: what, RetryAfter: te.RetryAfter}
}

// Reservation is an attempt in flight; exactly one of Keep, Release and
// Forget ends it (later calls do nothing).
type Reservation struct {
	t      *Throttle
	id     int64
	keys   []Key
	limits []store.ThrottleLimit
	done   bool
}

// Keep counts the attempt under every key: it failed, or it is what the
// rule counts (a registration).
func (r *Reservation) Keep(ctx context.Context) error {
	return r.settle(ctx, func(Key) store.ThrottleOutcome { return store.ThrottleKeep })
}

// Release counts the attempt under no key: it succeeded, or never reached
// the work the rules guard.
func (r *Reservation) Release(ctx context.Context) error {
	return r.settle(ctx, func(Key) store.ThrottleOutcome { return store.ThrottleRelease })
}

// Forget counts the attempt under no key and forgets what the keys of
// rules have counted so far: the owner proved themselves (a sign-in that
// succeeded forgets the failures of that account from that address).
func (r *Reservation) Forget(ctx context.Context, rules ...Rule) error {
	return r.settle(ctx, func(k Key) store.ThrottleOutcome {
		for _, rule := range rules {
			if k.rule.Name == rule.Name {
				return store.ThrottleReset
			}
		}
		return store.ThrottleRelease
	})
}

func (r *Reservation) settle(ctx context.Context, outcome func(Key) store.ThrottleOutcome) error {
	if r == nil || r.done {
		return nil
	}
	r.done = true
	outcomes := make(map[string]store.ThrottleOutcome, len(r.keys))
	for _, k := range r.keys {
		outcomes[k.key] = outcome(k)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	unlock, err := r.t.lock(ctx)
	if err != nil {
		return fmt.Errorf("throttle: settle: %w", err)
	}
	err = r.t.store.SettleAttempt(ctx, r.id, r.limits, outcomes, r.t.now())
	unlock()
	if err != nil {
		return fmt.Errorf("throttle: settle: %w", err)
	}
	return nil
}

// ErrThrottled is wrapped by every Error.
var ErrThrottled = errors.New("too many attempts")

// Error is a request refused because its key is blocked; its message is
// safe to show.
type Error struct {
	// What was throttled, for the message ("sign-in attempts").
	What       string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("too many %s; try again in %d seconds", e.What, int(e.RetryAfter.Seconds()+0.999))
}

// Unwrap makes errors.Is(err, ErrThrottled) hold.
func (e *Error) Unwrap() error { return ErrThrottled }

// RetryDelay is when the caller may try again.
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }
