// Package throttle counts failures per key (a client address, an account)
// in fixed windows and blocks a key that fails too often: failed sign-ins
// and failed authentications are answered 429 for a while instead of
// being checked, which makes guessing passwords and keys slow.
//
// Counts live in this process; instances sharing a database each keep
// their own, so a guesser spread over n instances gets n times the limit.
package throttle

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limiter blocks a key for Block after more than Limit failures within
// Window.
type Limiter struct {
	limit  int
	window time.Duration
	block  time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	start        time.Time
	failures     int
	blockedUntil time.Time
}

// maxEntries bounds memory under a flood of distinct keys: past it, stale
// entries are swept, and if none are stale the oldest window restarts.
const maxEntries = 100_000

// New returns a Limiter; now is the clock (time.Now when nil).
func New(limit int, window, block time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: limit, window: window, block: block, now: now, entries: map[string]*entry{}}
}

// Blocked reports whether key is blocked now, and for how much longer.
func (l *Limiter) Blocked(key string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return 0, false
	}
	if left := e.blockedUntil.Sub(l.now()); left > 0 {
		return left, true
	}
	return 0, false
}

// Fail records a failure of key and reports whether key is now blocked.
func (l *Limiter) Fail(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e, ok := l.entries[key]
	if !ok {
		if len(l.entries) >= maxEntries {
			l.sweep(now)
		}
		e = &entry{start: now}
		l.entries[key] = e
	}
	if now.Sub(e.start) >= l.window && !now.Before(e.blockedUntil) {
		*e = entry{start: now}
	}
	e.failures++
	if e.failures > l.limit {
		e.blockedUntil = now.Add(l.block)
		return true
	}
	return false
}

// Reset forgets key's failures, as after a successful sign-in.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.entries, key)
	l.mu.Unlock()
}

func (l *Limiter) sweep(now time.Time) {
	for k, e := range l.entries {
		if now.Sub(e.start) >= l.window && !now.Before(e.blockedUntil) {
			delete(l.entries, k)
		}
	}
	if len(l.entries) >= maxEntries {
		clear(l.entries)
	}
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
