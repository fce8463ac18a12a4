package app

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/proxytest"
	"github.com/smartimage/enhance/internal/redisclient/redistest"
	"github.com/smartimage/enhance/internal/store/storepostgres/postgrestest"
)

// TestDatabaseOutageFailsFastAndChargesNothing cuts the server off from
// PostgreSQL: image requests fail at once with 503, nothing is charged or
// worked on unbilled, /readyz says not ready, and when the database is
// back the server serves again by itself.
func TestDatabaseOutageFailsFastAndChargesNothing(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.Schema(t, nil)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	proxy := proxytest.New(t, u.Host)
	u.Host = proxy.Addr()
	s := startServer(t, func(c *config.Config) { c.DatabaseURL = u.String() })
	enhance := func() answer {
		return s.send(http.MethodPost, "/v1/enhance", "image/png", tinyPNG(t, 16, 16), map[string]string{"x-api-key": s.key})
	}
	ready := func() int { return s.send(http.MethodGet, "/readyz", "", nil, nil).status }

	require.Equal(t, http.StatusOK, enhance().status)
	require.Equal(t, http.StatusOK, ready())

	proxy.Cut()
	for range 3 {
		a := enhance()
		require.NoError(t, a.err)
		require.Equal(t, http.StatusServiceUnavailable, a.status, string(a.body))
		require.Equal(t, "UNAVAILABLE", a.problem.Code)
		require.Contains(t, a.problem.Detail, "nothing was charged")
	}
	require.Equal(t, http.StatusServiceUnavailable, ready())

	proxy.Restore()
	deadline := time.Now().Add(2 * time.Minute) // the pool reconnects on its own
	for ready() != http.StatusOK {
		require.True(t, time.Now().Before(deadline), "the server did not become ready again")
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, http.StatusOK, enhance().status)

	var usage struct{ CreditsUsed int }
	s.call(t, http.MethodGet, "/v1/usage", nil, map[string]string{"x-api-key": s.key}, &usage)
	require.Equal(t, 2, usage.CreditsUsed, "only the two answered enhances are charged")
	mismatches, err := s.app.Store().Reconcile(context.Background())
	require.NoError(t, err)
	require.Empty(t, mismatches)
}

// TestRedisOutageKeepsServingAlone cuts the server off from Redis: it
// keeps serving, limiting in this process alone, and says so in its log
// and metrics; when Redis is back, limits are shared again.
func TestRedisOutageKeepsServingAlone(t *testing.T) {
	t.Parallel()
	proxy := redistest.NewProxy(t)
	s := startServer(t, func(c *config.Config) { c.RedisURL = proxy.URL() })
	enhance := func() answer {
		return s.send(http.MethodPost, "/v1/enhance", "image/png", tinyPNG(t, 16, 16), map[string]string{"x-api-key": s.key})
	}
	metric := func(name string) string {
		resp, err := http.Get("http://" + s.app.MetricsAddr() + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		for line := range strings.SplitSeq(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		return ""
	}

	require.Equal(t, http.StatusOK, enhance().status)
	require.Equal(t, "1", metric("enhance_ratelimit_shared"))

	proxy.Cut()
	for range 3 {
		a := enhance()
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		require.NotEmpty(t, a.header.Get("X-Ratelimit-Remaining"), "still limited, by this process")
	}
	require.Equal(t, "0", metric("enhance_ratelimit_shared"))
	require.NotEqual(t, "0", metric("enhance_ratelimit_fallback_decisions_total"))
	require.Contains(t, s.logs.String(), "limiting in this process alone")

	proxy.Restore()
	deadline := time.Now().Add(2 * time.Minute) // Redis is tried again once a second
	for metric("enhance_ratelimit_shared") != "1" {
		require.True(t, time.Now().Before(deadline), "rate limits were not shared again")
		require.Equal(t, http.StatusOK, enhance().status)
		time.Sleep(200 * time.Millisecond)
	}
	require.Contains(t, s.logs.String(), "rate limits are shared across instances")
}

// TestLostLivenessMarkIsTakenAgain: a process whose liveness mark is lost
// (its PostgreSQL connection dropped) takes it again, so that other
// instances do not refund its requests as a dead process's.
func TestLostLivenessMarkIsTakenAgain(t *testing.T) {
	t.Parallel()
	databases := map[string]func(*config.Config){"sqlite": nil}
	if os.Getenv(postgrestest.EnvURL) != "" {
		databases["postgresql"] = func(c *config.Config) { c.DatabaseURL = postgrestest.Schema(t, nil) }
	}
	for name, mutate := range databases {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, mutate)
			ctx := context.Background()
			require.NoError(t, s.app.releaseInstance())
			alive, err := s.app.store.Alive(ctx, s.app.instance)
			require.NoError(t, err)
			require.False(t, alive)

			s.app.keepAlive(ctx)
			alive, err = s.app.store.Alive(ctx, s.app.instance)
			require.NoError(t, err)
			require.True(t, alive)
			require.Contains(t, s.logs.String(), "liveness mark was lost")
		})
	}
}

// TestDeadProcessIsReleasedOnTheSecondLook: the minute sweep refunds a
// process's charges only when it found the process dead twice running,
// so that one whose mark dropped for a moment keeps its requests; a
// server starting releases at once what a dead one left.
func TestDeadProcessIsReleasedOnTheSecondLook(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ctx := context.Background()
	acct, err := s.app.Store().AccountByEmail(ctx, DevEmail)
	require.NoError(t, err)
	ghost, err := credits.NewLedger(s.app.Store(), "ghostprocess", nil)
	require.NoError(t, err)
	_, err = ghost.Reserve(ctx, acct.ID, "k", credits.OpEnhance, "r1", 1)
	require.NoError(t, err)
	pending := func() int {
		u, err := s.app.ledger.Usage(ctx, acct.ID)
		require.NoError(t, err)
		return u.Used
	}

	require.NoError(t, s.app.releaseOrphans(ctx, false))
	require.Equal(t, 1, pending(), "the first look only suspects")
	require.NoError(t, s.app.releaseOrphans(ctx, false))
	require.Equal(t, 0, pending(), "the second look refunds")

	_, err = ghost.Reserve(ctx, acct.ID, "k", credits.OpEnhance, "r2", 1)
	require.NoError(t, err)
	require.NoError(t, s.app.releaseOrphans(ctx, true))
	require.Equal(t, 0, pending(), "a start releases at once")
}
