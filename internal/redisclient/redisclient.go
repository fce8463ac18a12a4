// Package redisclient builds the Redis client that instances share rate
// limits and key revocations through. Its timeouts are the request
// path's: a Redis that is gone costs the one request a second that
// tries it (ratelimit.Failover) two attempts, under a second when
// connections are refused or stall (two 400 ms reads) and about two
// seconds when dials go unanswered (two 1 s dials), after which the
// callers go on without it, instead of the client library's defaults of
// seconds per attempt and several attempts.
package redisclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The request path's limits, used where the URL does not set its own
// (dial_timeout, read_timeout, write_timeout, pool_timeout, max_retries,
// pool_size in its query).
const (
	// dialTimeout bounds a new connection on a loopback or private
	// network, where a healthy Redis answers in a millisecond.
	dialTimeout = time.Second
	// ioTimeout bounds one command: a rate-limit script takes well
	// under a millisecond.
	ioTimeout = 400 * time.Millisecond
	// poolTimeout bounds the wait for a free connection when all are
	// busy.
	poolTimeout = time.Second
	// maxRetries is one retry, which a pooled connection that Redis
	// closed (a restart) needs; more would multiply the cost of an
	// outage for every request.
	maxRetries = 1
	// dialRetries is one dial per attempt: a refused connection is
	// answered at once, and the library's default of five dials with
	// pauses between them is half a second per request.
	dialRetries = 1
)

// New returns a client for url (redis://[user:password@]host:port/db, or
// rediss:// for TLS) with the request path's timeouts. It does not
// connect: an instance starts, and serves, while Redis is away.
func New(url string) (*redis.Client, error) {
	opt, err := Options(url)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// Options are New's options, for a caller that sets more of them (a
// client name, a dialer) before making its client.
func Options(url string) (*redis.Options, error) {
	if url == "" {
		return nil, errors.New("redisclient: no URL")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisclient: %w", err)
	}
	setDefault(&opt.DialTimeout, dialTimeout)
	setDefault(&opt.ReadTimeout, ioTimeout)
	setDefault(&opt.WriteTimeout, ioTimeout)
	setDefault(&opt.PoolTimeout, poolTimeout)
	setDefault(&opt.MaxRetries, maxRetries)
	setDefault(&opt.DialerRetries, dialRetries)
	// The pool keeps go-redis's size, 10 connections per GOMAXPROCS: a
	// request holds one for a round trip of about 0.1 ms, twice (key
	// and account), so that is far more than the workers can use, and
	// the pool dials only what is used.
	//
	// A request's own deadline, where it is shorter, bounds its
	// commands too.
	opt.ContextTimeoutEnabled = true
	return opt, nil
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}
