// Package ratelimit decides whether a request may go ahead under a
// per-minute limit, by the generic cell rate algorithm (GCRA): each key
// holds one timestamp, the theoretical arrival time of its next request;
// a full minute's quota may be spent at once, and it comes back one
// request every minute/limit.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Window is the period every limit counts over.
const Window = time.Minute

// Decision is the answer for one request.
type Decision struct {
	Allowed bool
	// Limit is requests per Window; Remaining how many may be made now.
	Limit, Remaining int
	// Reset is when the quota is whole again; RetryAfter, when refused,
	// when the next request would be allowed.
	Reset, RetryAfter time.Duration
}

// ErrLimited is wrapped by every LimitedError.
var ErrLimited = errors.New("rate limit exceeded")

// LimitedError is a request refused by a limit; its message is shown.
type LimitedError struct {
	// Limit is requests per Window; Per names what it counts ("key",
	// "account") and Plan the plan that sets it.
	Limit     int
	Per, Plan string
	// RetryAfter is when the next request would be allowed.
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("%v: %d requests a minute per %s on the %s plan", ErrLimited, e.Limit, e.Per, e.Plan)
}

// Unwrap makes errors.Is(err, ErrLimited) hold.
func (e *LimitedError) Unwrap() error { return ErrLimited }

// RetryDelay is when the caller may try again.
func (e *LimitedError) RetryDelay() time.Duration { return e.RetryAfter }

// Limiter decides. Local keeps the counts in this process; Redis shares
// them between instances; Failover uses Redis while it answers and Local
// while it does not.
type Limiter interface {
	// Allow takes one request's share of key's quota, or refuses without
	// taking anything.
	Allow(ctx context.Context, key string, limit int) (Decision, error)
	// Undo gives back the share an allowed request took, for a request
	// that was refused after all (a busy server, or another limit), so
	// that a refusal never costs the caller quota.
	Undo(ctx context.Context, key string, limit int) error
}

// Local keeps the state in this process.
type Local struct {
	now func() time.Time

	mu  sync.Mutex
	tat map[string]time.Time
}

// maxKeys bounds memory: past it, keys whose quota is whole are dropped.
const maxKeys = 200_000

// NewLocal returns an in-process Limiter; now is the clock (time.Now when
// nil).
func NewLocal(now func() time.Time) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{now: now, tat: map[string]time.Time{}}
}

// Allow implements Limiter.
func (l *Local) Allow(_ context.Context, key string, limit int) (Decision, error) {
	interval := Window / time.Duration(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	d := Decision{Limit: limit}
	if used := next.Sub(now); used > Window {
		d.RetryAfter = used - Window
		d.Reset = tat.Sub(now)
		return d, nil
	}
	if !ok && len(l.tat) >= maxKeys {
		l.sweep(now)
	}
	l.tat[key] = next
	d.Allowed = true
	d.Reset = next.Sub(now)
	d.Remaining = int((Window - d.Reset) / interval)
	return d, nil
}

// Undo implements Limiter.
func (l *Local) Undo(_ context.Context, key string, limit int) error {
	interval := Window / time.Duration(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	if tat, ok := l.tat[key]; ok {
		l.tat[key] = tat.Add(-interval)
	}
	return nil
}

func (l *Local) sweep(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
}
