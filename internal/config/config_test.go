package config

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"ENHANCE_HTTP_ADDR":           "127.0.0.1:1",
		"ENHANCE_GRPC_ADDR":           "127.0.0.1:2",
		"ENHANCE_FETCH_ALLOW_PRIVATE": "true",
		"ENHANCE_REQUEST_TIMEOUT":     "5s",
	}
	c, err := Load([]string{"--http-addr", "127.0.0.1:3"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3", c.HTTPAddr, "a flag wins over its twin")
	require.Equal(t, "127.0.0.1:2", c.GRPCAddr, "the twin wins over the default")
	require.True(t, c.FetchAllowPrivate)
	require.Equal(t, 5*time.Second, c.RequestTimeout)
	require.Equal(t, "./data", c.DataDir, "defaults from api.md")
	require.Equal(t, "127.0.0.1:9090", c.MetricsAddr)
	require.Equal(t, 25_000_000, c.MaxSourcePixels)
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ENHANCE_WORKERS": "many"}
	_, err := Load(nil, func(k string) string { return env[k] }, io.Discard)
	require.ErrorContains(t, err, "ENHANCE_WORKERS")

	_, err = Load([]string{"--tls-cert", "c.pem", "--workers", "0", "--log-format", "xml"}, func(string) string { return "" }, io.Discard)
	require.ErrorContains(t, err, "--tls-cert and --tls-key")
	require.ErrorContains(t, err, "--workers")
	require.ErrorContains(t, err, "--log-format")

	_, err = Load([]string{"--database-url", "mysql://u:secret@db/x", "--redis-url", "localhost:6379"}, func(string) string { return "" }, io.Discard)
	require.ErrorContains(t, err, "--database-url must be a URL like postgres://")
	require.ErrorContains(t, err, "--redis-url must be a URL like redis://")
	require.NotContains(t, err.Error(), "secret", "a URL's password is never repeated")

	c, err := Load(nil, func(k string) string {
		return map[string]string{"ENHANCE_DATABASE_URL": "postgres://u@db:5432/enhance", "ENHANCE_REDIS_URL": "rediss://cache:6380/0"}[k]
	}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "postgres://u@db:5432/enhance", c.DatabaseURL)
	require.Equal(t, "rediss://cache:6380/0", c.RedisURL)

	_, err = Load([]string{"--database-url", "postgres:///enhance?host=/var/run/postgresql", "--redis-url", "unix:///run/redis.sock"}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err, "Unix sockets")

	_, err = Load([]string{"stray"}, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ENHANCE_FETCH_ALLOW_PRIVATE", EnvName("fetch-allow-private"))
}

func TestHostileInputLimits(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	c, err := Load([]string{"--workers", "3"}, none, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 12, c.Queue, "the queue defaults to four requests per worker")
	require.Equal(t, []uint16{80, 443}, c.FetchPorts)
	require.Empty(t, c.FetchAllowCIDRs)
	require.Equal(t, 100, c.MaxJPEGScans)
	require.Equal(t, 1000, c.MaxFrames)
	require.Equal(t, 20<<20, int(c.MaxBodyBytes))
	require.Equal(t, 30*time.Second, c.RequestTimeout)
	require.Equal(t, 10*time.Second, c.FetchTimeout)

	env := map[string]string{"ENHANCE_FETCH_ALLOW_CIDRS": "10.1.2.3/24, fd00::/8"}
	c, err = Load([]string{"--fetch-ports", "443,8443", "--queue", "0"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, []uint16{443, 8443}, c.FetchPorts)
	require.Equal(t, "[10.1.2.0/24 fd00::/8]", fmt.Sprint(c.FetchAllowCIDRs))
	require.Zero(t, c.Queue, "no queue at all is allowed: busy means 429")

	for _, args := range [][]string{
		{"--fetch-ports", "80,http"},
		{"--fetch-ports", "0"},
		{"--fetch-ports", "70000"},
		{"--fetch-allow-cidrs", "10.0.0.1"},
		{"--queue", "-2"},
		{"--max-jpeg-scans", "0"},
	} {
		_, err := Load(args, none, io.Discard)
		require.Error(t, err, args)
	}
}

func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	c, err := Load(nil, none, io.Discard)
	require.NoError(t, err)
	require.Zero(t, c.MemoryBudget, "unset: the app takes a share of the memory limit at start")
	for in, want := range map[string]int64{
		"1073741824": 1 << 30, "1GiB": 1 << 30, "1.5 GiB": 3 << 29, "800MiB": 800 << 20, "2GB": 2e9,
		"512mib": 512 << 20, "64KiB": 64 << 10, "100B": 100, "0": 0,
	} {
		c, err := Load([]string{"--memory-budget", in}, none, io.Discard)
		require.NoError(t, err, in)
		require.Equal(t, want, c.MemoryBudget, in)
	}
	c, err = Load(nil, func(k string) string { return map[string]string{"ENHANCE_MEMORY_BUDGET": "3GiB"}[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, int64(3<<30), c.MemoryBudget, "the environment twin")
	for _, bad := range []string{"-1GiB", "lots", "1.5 parsecs", "NaN", "Inf", "1e30GiB", ""} {
		_, err := Load([]string{"--memory-budget", bad}, none, io.Discard)
		require.Error(t, err, bad)
	}
}

// TestWorkersFollowGOMAXPROCS: --workers defaults to GOMAXPROCS, which
// follows a container's CPU limit, not to the machine's CPU count. (Not
// parallel: it sets GOMAXPROCS, to a number no machine's count is likely
// to match.)
func TestWorkersFollowGOMAXPROCS(t *testing.T) {
	procs := runtime.NumCPU() + 3
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	c, err := Load(nil, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, procs, c.Workers)
	require.Equal(t, 4*procs, c.Queue)
}
