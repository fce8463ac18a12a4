package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/app"
	"github.com/smartimage/enhance/internal/credits"
)

// TestExitStatus: every status the usage text documents, as a script
// sees it.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	photo := filepath.Join(copyImages(t, "bird.png"), "bird.png")
	out := func() string { return filepath.Join(t.TempDir(), "out.png") }

	tests := []struct {
		name   string
		env    map[string]string // changes to the client's environment
		ttyOut bool              // stdout is a terminal
		args   []string
		code   int
		stderr string
	}{
		{name: "no command", args: nil, code: exitUsage, stderr: "usage: enhancectl COMMAND"},
		{name: "unknown command", args: []string{"explode"}, code: exitUsage, stderr: "enhancectl: unknown command \"explode\"\nusage: enhancectl COMMAND"},
		{name: "unknown keys command", args: []string{"keys", "burn"}, code: exitUsage, stderr: `unknown command "keys burn"`},
		{name: "unknown flag", args: []string{"enhance", "--sharpness", "3", photo}, code: exitUsage, stderr: "flag provided but not defined: -sharpness"},
		{name: "no input", args: []string{"enhance"}, code: exitUsage, stderr: "no input: name image files, folders or URLs"},
		{name: "no key id", args: []string{"keys", "rotate"}, code: exitUsage, stderr: "enhancectl keys: rotate needs one KEY_ID"},
		{name: "no key name", args: []string{"keys", "create"}, code: exitUsage, stderr: "enhancectl keys: create needs --name NAME"},
		{name: "no email", args: []string{"login"}, code: exitUsage, stderr: "enhancectl login: whose? give the account's EMAIL"},
		{name: "no password", args: []string{"login", "a@example.com"}, code: exitUsage, stderr: "no password on stdin"},
		{name: "bad format", args: []string{"enhance", "--format", "gif", photo}, code: exitUsage, stderr: `--format "gif" is not one of png, jpeg, webp`},
		{name: "stdout for two", args: []string{"enhance", "-o", "-", photo, photo}, code: exitUsage, stderr: "-o - (stdout) takes one input"},
		{name: "an image to a terminal", ttyOut: true, args: []string{"enhance", "-o", "-", photo}, code: exitUsage, stderr: "redirect stdout"},
		{name: "an option the server refuses", args: []string{"upscale", "--scale", "5", photo, "-o", out()}, code: exitUsage, stderr: "INVALID_OPTION"},
		{name: "help", args: []string{"help"}, code: exitOK},
		{name: "no key", env: map[string]string{keyEnv: ""}, args: []string{"enhance", photo}, code: exitAuth,
			stderr: "enhancectl enhance: no API key: set SMART_IMAGE_ENHANCEMENT_API_KEY (or give --key-file FILE)\n"},
		{name: "an empty key file", args: []string{"enhance", "--key-file", os.DevNull, photo}, code: exitAuth, stderr: "is empty"},
		{name: "a malformed key", env: map[string]string{keyEnv: "sie_not a key"}, args: []string{"enhance", photo}, code: exitAuth,
			stderr: "the API key in SMART_IMAGE_ENHANCEMENT_API_KEY is malformed"},
		{name: "a wrong key", env: map[string]string{keyEnv: "sie_AAAAAAAAAAAAAAAA_" + strings.Repeat("B", 43) + "_CCCCCC"},
			args: []string{"enhance", photo, "-o", out()}, code: exitAuth, stderr: "UNAUTHENTICATED"},
		{name: "a wrong key over REST", env: map[string]string{keyEnv: "sie_AAAAAAAAAAAAAAAA_" + strings.Repeat("B", 43) + "_CCCCCC"},
			args: []string{"usage", "--rest", "--server", s.rest}, code: exitAuth, stderr: "UNAUTHENTICATED"},
		{name: "a missing input", args: []string{"enhance", "missing.jpg"}, code: exitFailed, stderr: "enhancectl enhance: missing.jpg: no such file or directory"},
		{name: "not an image", args: []string{"enhance", "main.go", "-o", out()}, code: exitFailed, stderr: "UNSUPPORTED_IMAGE"},
		{name: "no server", args: []string{"enhance", "--server", "127.0.0.1:1", photo, "-o", out()}, code: exitUnreachable, stderr: "cannot reach 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused\n"},
		{name: "no server over REST", args: []string{"pricing", "--rest", "--server", "127.0.0.1:1"}, code: exitUnreachable, stderr: "cannot reach https://127.0.0.1:1"},
		{name: "an untrusted server", env: map[string]string{"ENHANCE_CA": ""}, args: []string{"pricing"}, code: exitUnreachable,
			stderr: "does --ca name the server's CA?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.client(t)
			c.ttyOut = tt.ttyOut
			for k, v := range tt.env {
				c.env[k] = v
			}
			r := c.run(tt.args...)
			require.Equal(t, tt.code, r.code)
			require.Contains(t, r.stderr, tt.stderr)
			if k := c.env[keyEnv]; k != "" {
				require.NotContains(t, r.stdout+r.stderr, k, "the key is never printed")
			}
		})
	}

	// Out of credits: 4, and a folder stops sending at the first refusal.
	key, accountID, keyID := s.register(t, "spent@example.com", "a long passphrase for tests")
	ledger, err := credits.NewLedger(s.app.Store(), "", nil)
	require.NoError(t, err)
	ctx := context.Background()
	charge, err := ledger.Reserve(ctx, accountID, keyID, credits.OpEnhance, "spend-all", 50)
	require.NoError(t, err)
	require.NoError(t, ledger.Commit(ctx, charge))
	c := s.client(t)
	c.env[keyEnv] = key
	r := c.run("enhance", photo, "-o", out())
	require.Equal(t, exitExhausted, r.code)
	require.Contains(t, r.stderr, "CREDITS_EXHAUSTED")
	require.Contains(t, r.stderr, "credits renew on")
	dir := copyImages(t, "kodim23.jpg", "bird.png", "kodim05.jpg", "progressive.jpg")
	r = c.run("enhance", "-j", "1", dir)
	require.Equal(t, exitExhausted, r.code)
	require.Contains(t, r.stderr, "0 done, 1 failed, 3 skipped of 4")
	require.Contains(t, r.stderr, "; 3 not sent after the refusal above")
	r = c.run("usage")
	require.Equal(t, exitOK, r.code, "reading the balance still works")
	require.Contains(t, r.stdout, "remaining 0")
}

// TestRateLimits: a batch past the plan's requests a minute waits as the
// server says and finishes; a refusal too long to wait for is 4.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	// The rate limits' clock stands still but when a retry is announced,
	// then moves on by the second the server asked to wait: however
	// slowly this machine sends the requests, the free plan's 60 are
	// spent by the 61st and earned back one per retry.
	var (
		mu  sync.Mutex
		now = time.Now()
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s := startServer(t, app.WithClock(clock))
	c := s.client(t)
	c.onStderr = func(line string) {
		if strings.Contains(line, "rate limited; retrying in 1s") {
			mu.Lock()
			now = now.Add(time.Second)
			mu.Unlock()
		}
	}

	dir := t.TempDir()
	photo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "progressive.jpg"))
	require.NoError(t, err)
	for i := range 62 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%02d.jpg", i)), photo, 0o644))
	}
	r := c.run("enhance", "--dry-run", "-j", "1", dir)
	require.Equal(t, exitOK, r.code)
	require.Contains(t, r.stderr, "quote: 62 of 62 inputs, 62 credits in all; nothing charged")
	require.Contains(t, r.stderr, "p60.jpg: rate limited; retrying in 1s\n")
	require.Contains(t, r.stderr, "p61.jpg: rate limited; retrying in 1s\n")

	// With the clock held, the retries run out: 4.
	c.onStderr = nil
	r = c.run("enhance", "--dry-run", "--retries", "1", filepath.Join(dir, "p00.jpg"))
	require.Equal(t, exitExhausted, r.code)
	require.Contains(t, r.stderr, "RATE_LIMITED")

	// Wrong keys block the address for minutes: no retry, status 4.
	c.env[keyEnv] = "sie_AAAAAAAAAAAAAAAA_" + strings.Repeat("B", 43) + "_CCCCCC"
	for range 21 {
		require.Equal(t, exitAuth, c.run("usage").code)
	}
	r = c.run("usage")
	require.Equal(t, exitExhausted, r.code)
	require.Contains(t, r.stderr, "too many failed authentications")
	require.NotContains(t, r.stderr, "retrying")
}
