package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAccountCommands: pricing, usage, and a new account's owner signing
// in and creating, rotating and revoking keys, on both doors.
func TestAccountCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.client(t)

	r := c.run("pricing")
	require.Equal(t, exitOK, r.code)
	require.Regexp(t, `free\s+50\s+60`, r.stdout)
	require.Regexp(t, `upscale\s+1 credit per started 8 megapixels of output`, r.stdout)
	delete(c.env, keyEnv)
	r = c.run("pricing", "--rest", "--server", s.rest, "--json")
	require.Equal(t, exitOK, r.code, "pricing needs no key")
	require.Contains(t, r.stdout, `"monthlyCredits": 50`)

	c.env[keyEnv] = s.key
	r = c.run("usage")
	require.Equal(t, exitOK, r.code)
	require.Regexp(t, `^plan \w+, \d{4}-\d\d-01 to \d{4}-\d\d-01 \(UTC\): granted \d+, used 0, remaining \d+\n$`, r.stdout)

	// A new account: its owner signs in with the password piped in.
	const email, password = "owner@example.com", "a long passphrase for tests"
	firstKey, _, firstID := s.register(t, email, password)
	c.env[keyEnv] = ""
	r = c.run("keys", "list")
	require.Equal(t, exitAuth, r.code)
	require.Contains(t, r.stderr, "not signed in: run enhancectl login EMAIL")
	r = c.runStdin("not the password\n", "login", email)
	require.Equal(t, exitAuth, r.code)
	require.Contains(t, r.stderr, "BAD_CREDENTIALS")
	r = c.runStdin(password+"\n", "login", email)
	require.Equal(t, exitOK, r.code)
	require.Contains(t, r.stdout, "signed in as "+email)
	path := filepath.Join(c.env["XDG_CONFIG_HOME"], "enhancectl", "session.json")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(b), password)

	r = c.run("keys", "list")
	require.Equal(t, exitOK, r.code)
	require.Regexp(t, `(?m)^ID\s+NAME\s+SCOPES`, r.stdout)
	require.Regexp(t, `(?m)^`+firstID+`\s+default\s+images:enhance,images:upscale,images:colorize,usage:read\s`, r.stdout)
	require.NotContains(t, r.stdout, firstKey)

	// create prints the secret alone on stdout, for scripts.
	r = c.run("keys", "create", "--name", "ci", "--scope", "usage:read", "--expires", "30d")
	require.Equal(t, exitOK, r.code)
	ciKey := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^sie_\w+$`, ciKey)
	require.Contains(t, r.stderr, "(ci) with usage:read; its secret, shown this once")
	ciID, err := keyID(strings.SplitN(ciKey, "_", 3)[1])
	require.NoError(t, err)

	// The new key works; a key without usage:read is refused (3).
	k := s.client(t)
	k.env[keyEnv] = ciKey
	require.Equal(t, exitOK, k.run("usage").code)
	require.Equal(t, exitAuth, k.run("enhance", filepath.Join("..", "..", "testdata", "images", "bird.png"), "-o", filepath.Join(t.TempDir(), "x.png")).code)

	// Rotate over REST (the session works on both doors): the new
	// secret works, the old one stops.
	r = c.run("keys", "rotate", "--rest", "--server", s.rest, "keys/"+ciID)
	require.Equal(t, exitOK, r.code)
	rotated := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^sie_`+ciID+`_\w+$`, rotated)
	require.Contains(t, r.stderr, "the old secret stopped working")
	r = k.run("usage", "--rest", "--server", s.rest)
	require.Equal(t, exitAuth, r.code)
	require.Contains(t, r.stderr, "UNAUTHENTICATED")
	k.env[keyEnv] = rotated
	require.Equal(t, exitOK, k.run("usage", "--ledger").code)

	r = c.run("keys", "revoke", ciID)
	require.Equal(t, exitOK, r.code)
	require.Equal(t, "revoked key "+ciID+"\n", r.stdout)
	require.Equal(t, exitAuth, k.run("usage").code)
	r = c.run("keys", "list", "--json")
	require.Equal(t, exitOK, r.code)
	require.NotContains(t, r.stdout, ciID)
	require.Contains(t, r.stdout, `"displayName": "default"`)

	// A revoked key cannot be revoked again; that is a plain failure.
	r = c.run("keys", "revoke", ciID)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "KEY_NOT_FOUND")

	// A key with keys:manage does what a session does.
	r = c.run("keys", "create", "--name", "manager", "--scope", "keys:manage,usage:read")
	require.Equal(t, exitOK, r.code)
	manager := strings.TrimSpace(r.stdout)

	r = c.run("logout")
	require.Equal(t, exitOK, r.code)
	require.Equal(t, "signed out "+email+"\n", r.stdout)
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, exitAuth, c.run("keys", "list").code)
	c.env[keyEnv] = manager
	r = c.run("keys", "list", "--rest", "--server", s.rest)
	require.Equal(t, exitOK, r.code)
	require.Regexp(t, `(?m)^\w+\s+manager\s+keys:manage,usage:read\s`, r.stdout)
}
