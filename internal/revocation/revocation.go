// Package revocation carries key revocations and rotations between
// instances, so that a key revoked on one is refused by every instance at
// once.
//
// The instance that revokes or rotates a key publishes its id on a Redis
// channel; every instance listens, and drops the key from its verifier's
// cache (auth.Verifier.Forget) when it hears it. Redis Pub/Sub delivers
// only to those connected when a message is sent: an instance that is
// cut off from Redis misses what is published meanwhile, and then sees
// those revocations as its cached verifications expire (auth.CacheTTL,
// 4 seconds), as it would with no Redis at all. The listener logs such
// gaps.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Channel is the Redis channel the service's revocations travel on.
const Channel = "enhance:revocations"

const (
	// defaultQuiet is how long a listener hears nothing before it pings
	// Redis, and then how long it waits for the answer before taking the
	// connection for dead (a network that drops packets, where nothing
	// says the connection is gone). A lost connection that Redis or the
	// network closes is seen at once.
	defaultQuiet = 5 * time.Second
	// defaultRetry is the pause between attempts to reach Redis again.
	defaultRetry = time.Second
)

// Bus publishes key ids on a Redis channel and hears those published by
// every instance, itself included.
type Bus struct {
	client  redis.UniversalClient
	channel string
	log     *slog.Logger
	quiet   time.Duration
	retry   time.Duration
}

// New returns a Bus on client's Redis and channel (Channel for the
// service), logging losses of the subscription to log.
func New(client redis.UniversalClient, channel string, log *slog.Logger) (*Bus, error) {
	if client == nil || channel == "" || log == nil {
		return nil, errors.New("revocation: a bus needs a client, a channel and a logger")
	}
	return &Bus{client: client, channel: channel, log: log, quiet: defaultQuiet, retry: defaultRetry}, nil
}

// Publish tells every listening instance that key id was revoked or
// rotated. The change is already in the database: a failure here only
// leaves the other instances to see it within auth.CacheTTL.
func (b *Bus) Publish(ctx context.Context, keyID string) error {
	if keyID == "" {
		return errors.New("revocation: no key id to publish")
	}
	if err := b.client.Publish(ctx, b.channel, keyID).Err(); err != nil {
		return fmt.Errorf("revocation: publish: %w", err)
	}
	return nil
}

// Listen calls forget with every key id published on the channel, one at
// a time, until ctx ends. It keeps listening through losses of Redis:
// go-redis reconnects and subscribes again, and Listen logs the first
// failure of each gap and the subscription that ends it; what was
// published during the gap is not heard (see the package comment).
func (b *Bus) Listen(ctx context.Context, forget func(keyID string)) {
	var mu sync.Mutex
	ps := b.client.Subscribe(ctx, b.channel)
	closePS := func() {
		mu.Lock()
		defer mu.Unlock()
		_ = ps.Close()
	}
	// A read in progress does not watch ctx: closing the subscription
	// ends it.
	stop := context.AfterFunc(ctx, closePS)
	defer stop()
	defer closePS()

	var (
		heard    time.Time // when Redis was last heard from
		inGap    bool      // the subscription is lost
		gapSince time.Time // when the gap began: Redis last heard from
		failures int       // failures in a row
		pinged   bool      // a ping is waiting for its answer
	)
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.quiet)
		if ctx.Err() != nil {
			return
		}
		if err != nil && isTimeout(err) {
			if !pinged {
				// Nothing heard for a while: ask for a sign of life,
				// which the next receive reads.
				if err = ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			} else {
				// The ping went unanswered: the connection is dead
				// without having been closed. Start afresh.
				mu.Lock()
				if ctx.Err() != nil {
					mu.Unlock()
					return
				}
				_ = ps.Close()
				ps = b.client.Subscribe(ctx, b.channel)
				mu.Unlock()
			}
		}
		pinged = false
		if err != nil {
			failures++
			if !inGap {
				inGap, gapSince = true, heard
				if gapSince.IsZero() {
					gapSince = time.Now()
				}
				b.log.Warn("revocation: lost the Redis subscription; keys revoked on other instances meanwhile are refused here only when their cached verifications expire (4 s)",
					"channel", b.channel, "err", err)
			}
			// The first retry is at once (go-redis has already
			// reconnected where Redis is up); the next are paced.
			if failures > 1 && !sleep(ctx, b.retry) {
				return
			}
			continue
		}
		failures = 0
		heard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				break
			}
			if !inGap {
				b.log.Info("revocation: listening", "channel", b.channel)
				break
			}
			// The gap is counted from the last sign of life: anything
			// published since may have been missed.
			b.log.Info("revocation: listening again", "channel", b.channel, "gap", time.Since(gapSince).Round(time.Millisecond))
			inGap = false
		case *redis.Message:
			forget(m.Payload)
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
