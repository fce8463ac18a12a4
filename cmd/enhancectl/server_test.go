package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/app"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
)

// testServer is a real server in this process, on loopback ports, with
// TLS from its development CA and a SQLite database in a temporary folder.
type testServer struct {
	app  *app.App
	grpc string // host:port
	rest string // https://host:port
	ca   string // the CA's PEM file
	key  string // the development account's key
	http *http.Client
}

func startServer(t *testing.T, opts ...app.Option) *testServer {
	t.Helper()
	cfg, err := config.Load([]string{
		"--http-addr", "127.0.0.1:0",
		"--grpc-addr", "127.0.0.1:0",
		"--metrics-addr", "",
		"--data-dir", t.TempDir(),
		"--dev-account",
		"--fetch-allow-private",
		"--workers", "2",
		"--shutdown-timeout", "10s",
		"--request-timeout", "2m", // a loaded 2-core machine may queue a request; no test here is about speed
	}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	// Password hashes at the cheapest cost the server accepts: these tests
	// are about the client.
	opts = append([]app.Option{app.WithHashCost(auth.Cost{MemoryKiB: 8, Passes: 1})}, opts...)
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Error("server did not stop")
		}
	})
	pem, err := os.ReadFile(a.CAPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	return &testServer{
		app: a, grpc: a.GRPCAddr(), rest: "https://" + a.HTTPAddr(), ca: a.CAPath(), key: a.DevKey(),
		http: &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
}

// register makes an account over REST and returns its first key, its
// account id and its key id.
func (s *testServer) register(t *testing.T, email, password string) (key, accountID, keyID string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	require.NoError(t, err)
	resp, err := s.http.Post(s.rest+"/v1/accounts", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var r struct {
		Account struct{ Name string }
		APIKey  struct{ Name, Secret string } `json:"apiKey"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return r.APIKey.Secret, strings.TrimPrefix(r.Account.Name, "accounts/"), strings.TrimPrefix(r.APIKey.Name, "keys/")
}

// client runs enhancectl against s with an environment of its own: the
// server, its CA, a config folder and a key (delete or blank it to test
// without).
type client struct {
	t        *testing.T
	env      map[string]string
	terminal bool // stderr is a terminal
	ttyOut   bool // stdout is a terminal
	// onStderr, when set, sees every write to stderr as it happens.
	onStderr func(string)
}

// watched is a stderr that lets a test act on what is written, when it
// is written.
type watched struct {
	bytes.Buffer
	on func(string)
}

func (w *watched) Write(p []byte) (int, error) {
	w.on(string(p))
	return w.Buffer.Write(p)
}

func (s *testServer) client(t *testing.T) *client {
	return &client{t: t, env: map[string]string{
		"ENHANCE_SERVER":  s.grpc,
		"ENHANCE_CA":      s.ca,
		keyEnv:            s.key,
		"XDG_CONFIG_HOME": t.TempDir(),
	}}
}

// result is what one run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func (c *client) run(args ...string) result { return c.runStdin("", args...) }

func (c *client) runStdin(stdin string, args ...string) result {
	var out bytes.Buffer
	errOut := &watched{on: func(string) {}}
	if c.onStderr != nil {
		errOut.on = c.onStderr
	}
	con := &console{
		stdin: strings.NewReader(stdin), stdout: &out, stderr: errOut,
		getenv: func(k string) string { return c.env[k] }, terminal: c.terminal, stdoutTerminal: c.ttyOut, now: time.Now,
	}
	code := dispatch(context.Background(), args, con)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	c.t.Logf("enhancectl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

// copyImages copies test images into a new folder.
func copyImages(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o644))
	}
	return dir
}
