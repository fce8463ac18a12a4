// Package redistest gives tests a real Redis: the one named by
// ENHANCE_TEST_REDIS_URL (CI sets it), or a skip that says how to get
// one, so that the suites need nothing but Go where it is unset.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/smartimage/enhance/internal/redisclient"
)

// EnvURL names the variable that holds the test Redis's URL, e.g.
// redis://127.0.0.1:6390/0.
const EnvURL = "ENHANCE_TEST_REDIS_URL"

// URL returns the test Redis's URL, or skips t when none is set.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		t.Skip("no Redis to test against: set " + EnvURL + " (e.g. redis://127.0.0.1:6390/0)")
	}
	return url
}

// New returns a client to the test Redis, built as the service builds
// its own (redisclient.New) and closed when t ends; it skips t when no
// Redis is set, and fails it when the one set does not answer.
func New(t testing.TB) *redis.Client {
	t.Helper()
	c, err := redisclient.New(URL(t))
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redistest: the Redis that %s names does not answer: %v", EnvURL, err)
	}
	return c
}

// Name returns prefix followed by random letters, a key prefix or channel
// name of the test's own, so that tests sharing one Redis (in parallel,
// or from several packages at once) never see each other's data.
func Name(prefix string) string {
	return prefix + rand.Text()
}
