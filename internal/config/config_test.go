package config

import (
	"io"
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

	_, err = Load([]string{"stray"}, func(string) string { return "" }, io.Discard)
	require.Error(t, err)
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ENHANCE_FETCH_ALLOW_PRIVATE", EnvName("fetch-allow-private"))
}
