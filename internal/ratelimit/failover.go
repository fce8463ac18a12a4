package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRetry is how long Failover decides alone after the primary
// failed, before it tries the primary again.
const DefaultRetry = time.Second

// errShareLost is Undo's answer for a share the primary took while the
// primary cannot be reached.
var errShareLost = errors.New("ratelimit: the shared limiter is unavailable; the share is not given back")

// FailoverConfig tunes a Failover.
type FailoverConfig struct {
	// Retry is how long after a failure the primary is left alone
	// (DefaultRetry when zero): one request tries it again after that,
	// the others meanwhile decided by the fallback, so that an outage
	// costs a timeout once a Retry, not once a request.
	Retry time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Failover is a Limiter that decides with a shared primary (Redis) while
// the primary answers, and with a fallback in this process (Local) while
// it does not, so that a Redis outage costs the service its shared
// limits, never its requests: each instance then limits alone, and a
// caller spread over n instances may make up to n times its limit.
//
// It logs once when it falls back and once when the primary answers
// again; Shared and Fallbacks are its state for metrics.
type Failover struct {
	primary, fallback Limiter
	log               *slog.Logger
	now               func() time.Time
	retry             time.Duration

	shared    atomic.Bool
	fallbacks atomic.Uint64

	mu        sync.Mutex
	downSince time.Time // when the primary failed, while it is down
	probeAt   time.Time // while down, when the primary is next tried
	// fellBack holds the keys whose latest share the fallback took,
	// until that share lapses (a Window after it was taken: undoing it
	// later would change nothing), so that Undo gives a share back to
	// the limiter that took it.
	fellBack map[string]time.Time
}

// NewFailover returns a Limiter deciding with primary, or with fallback
// while primary fails, logging the changes to log.
func NewFailover(cfg FailoverConfig, primary, fallback Limiter, log *slog.Logger) (*Failover, error) {
	if cfg.Retry < 0 {
		return nil, errors.New("ratelimit: failover: Retry is negative")
	}
	if primary == nil || fallback == nil || log == nil {
		return nil, errors.New("ratelimit: failover needs a primary, a fallback and a logger")
	}
	if cfg.Retry == 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Failover{primary: primary, fallback: fallback, log: log, now: cfg.Now, retry: cfg.Retry, fellBack: map[string]time.Time{}}
	f.shared.Store(true)
	return f, nil
}

// Shared reports whether decisions are the primary's now (for a gauge:
// 1 shared, 0 limiting in this process alone).
func (f *Failover) Shared() bool { return f.shared.Load() }

// Fallbacks counts the decisions the fallback made (for a counter).
func (f *Failover) Fallbacks() uint64 { return f.fallbacks.Load() }

// Allow implements Limiter. It fails only where the fallback fails, or
// where ctx ended while the primary was deciding (the caller is gone,
// which says nothing about the primary).
func (f *Failover) Allow(ctx context.Context, key string, limit int) (Decision, error) {
	if f.usePrimary() {
		d, err := f.primary.Allow(ctx, key, limit)
		if err == nil {
			f.answered(key, d.Allowed)
			return d, nil
		}
		if ctx.Err() != nil || errors.Is(err, errLimit) {
			return Decision{}, err
		}
		f.failed(err)
	}
	f.fallbacks.Add(1)
	d, err := f.fallback.Allow(ctx, key, limit)
	if err == nil && d.Allowed {
		f.tookLocally(key)
	}
	return d, err
}

// Undo implements Limiter: the share goes back to the limiter that took
// key's latest share. Which request an Undo is for is not known, so when
// a key's requests were decided by both limiters within a minute, a
// share may go back to the wrong one; that costs the caller one request
// for at most a minute, as a lost Undo does, and only around a change.
// A share the primary took while the primary is down is not given back
// (errShareLost): trying would cost the request a timeout.
func (f *Failover) Undo(ctx context.Context, key string, limit int) error {
	if f.fallbackHolds(key) {
		return f.fallback.Undo(ctx, key, limit)
	}
	if !f.Shared() {
		return errShareLost
	}
	err := f.primary.Undo(ctx, key, limit)
	if err != nil && ctx.Err() == nil && !errors.Is(err, errLimit) {
		f.failed(err)
	}
	return err
}

// usePrimary says whether to ask the primary: always while it answers,
// and while it is down, once a Retry (the first request past probeAt
// claims the try, the others go on without it).
func (f *Failover) usePrimary() bool {
	if f.shared.Load() {
		return true
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Before(f.probeAt) {
		return false
	}
	f.probeAt = now.Add(f.retry)
	return true
}

// answered records the primary's decision: it is up, and an allowed
// request's share is the primary's.
func (f *Failover) answered(key string, allowed bool) {
	if f.shared.Load() && !allowed {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if allowed {
		delete(f.fellBack, key)
	}
	if f.shared.Load() {
		return
	}
	f.shared.Store(true)
	f.log.Info("ratelimit: the shared limiter (Redis) answers again; rate limits are shared across instances",
		"down_for", f.now().Sub(f.downSince).Round(time.Millisecond), "fallback_decisions", f.fallbacks.Load())
	f.downSince = time.Time{}
}

// failed records a failure of the primary, logging the first of an
// outage.
func (f *Failover) failed(err error) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probeAt = now.Add(f.retry)
	if !f.shared.Load() {
		return
	}
	f.shared.Store(false)
	f.downSince = now
	f.log.Warn("ratelimit: the shared limiter (Redis) failed; limiting in this process alone until it answers",
		"err", err, "retry_every", f.retry)
}

func (f *Failover) tookLocally(key string) {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.fellBack[key]; !ok && len(f.fellBack) >= maxKeys {
		for k, until := range f.fellBack {
			if !now.Before(until) {
				delete(f.fellBack, k)
			}
		}
	}
	f.fellBack[key] = now.Add(Window)
}

func (f *Failover) fallbackHolds(key string) bool {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	until, ok := f.fellBack[key]
	if ok && !now.Before(until) {
		delete(f.fellBack, key)
		return false
	}
	return ok
}
