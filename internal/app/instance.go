package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// newInstanceID names this server process in the database: its pending
// charges and running idempotent calls carry it, so that whoever finds the
// process dead can release them.
func newInstanceID() string { return strings.ToLower(rand.Text()) }

// releaseOrphans refunds the pending charges ("refunded: interrupted") and
// forgets the running idempotent calls of every server process that holds
// some and is no longer alive (its liveness lock is free): a process
// killed mid-request, whose callers must neither stay charged nor wait
// out the longest request before retrying. It runs at start, before any
// request, and with the minute sweep for processes that die meanwhile.
// The sweep releases a process only when it found it dead twice running:
// a live one whose mark dropped with its database connection takes it
// again within keepAliveEvery, and must not have its requests refunded
// while they run.
func (a *App) releaseOrphans(ctx context.Context, atStart bool) error {
	a.orphansMu.Lock()
	defer a.orphansMu.Unlock()
	holders, err := a.store.Holders(ctx)
	if err != nil {
		return fmt.Errorf("app: find holders of pending work: %w", err)
	}
	// One process that cannot be judged or released does not hold up
	// the others; its work is tried again at the next sweep.
	var errs []error
	suspects := map[string]bool{}
	defer func() { a.suspects = suspects }()
	for _, id := range holders {
		if id == a.instance {
			continue
		}
		alive, err := a.store.Alive(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if alive {
			continue
		}
		if !atStart && !a.suspects[id] {
			suspects[id] = true
			continue
		}
		refunds, err := a.ledger.RefundInterrupted(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("app: refund an interrupted process's charges: %w", err))
			continue
		}
		calls, err := a.store.AbandonInstanceCalls(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("app: release an interrupted process's idempotency keys: %w", err))
			continue
		}
		a.leftRefunds.WithLabelValues("dead_process").Add(float64(refunds))
		a.log.WarnContext(ctx, "released what a dead server process held", "instance", id, "refunded_charges", refunds, "idempotency_keys", calls)
	}
	return errors.Join(errs...)
}
