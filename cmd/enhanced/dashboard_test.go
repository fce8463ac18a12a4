package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chromiumWithPlaywright finds node, web/'s npm packages (make clients)
// and Debian's chromium.
func chromiumWithPlaywright() (string, bool) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", false
	}
	for _, p := range []string{"playwright-core", "axe-core"} {
		if _, err := os.Stat(filepath.Join("..", "..", "web", "node_modules", p)); err != nil {
			return "", false
		}
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		return "", false
	}
	return node, true
}

func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// TestDashboardInBrowser runs web/test/e2e.mjs in headless Chromium
// against the real binary: register, sign in, create a key, enhance with
// it from the script, see the usage go up, rotate and revoke it and see it
// refused, try an upload, read the audit log, sign out; axe-core on every
// page. Then it checks the account from outside the browser. With
// ENHANCE_SCREENSHOTS set (make screenshots) the script saves each page
// at desktop and phone widths there.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel()
	node := requireTool(t, chromiumWithPlaywright, "node, Debian's chromium and web/node_modules (make clients)")
	p := start(t, t.TempDir())
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	email := "browser@example.com"

	// Generous: Chromium and a dozen image calls on a loaded 2-core machine.
	// More than the script's own wait for any one thing (two minutes), so
	// that a stuck step fails there, with the script's account of it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(root, "web", "test", "e2e.mjs"))
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(),
		"ENHANCE_BASE="+p.base,
		"ENHANCE_EMAIL="+email,
		"ENHANCE_IMAGES="+filepath.Join(root, "testdata", "images"),
		"NODE_EXTRA_CA_CERTS="+p.caPath(),
		"CHROMIUM="+chromiumPath(),
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\nthe server's log, last lines:\n%s", out, logTail(p.output.String(), 40))
	var result struct {
		Before, After struct{ Used, Left, Rows int }
		Failures      int
		Axe           map[string][]string
		Screenshots   []string
	}
	i := strings.LastIndex(string(out), "RESULT ")
	require.GreaterOrEqual(t, i, 0, "%s", out)
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(string(out[i+len("RESULT "):]))), &result))
	require.Equal(t, result.Before.Used+1, result.After.Used, "%s", out)
	for _, page := range []string{"signin", "register", "keys", "usage", "try", "audit"} {
		require.Contains(t, result.Axe, page, "axe ran on %s", page)
	}
	if dir := os.Getenv("ENHANCE_SCREENSHOTS"); dir != "" {
		require.Len(t, result.Screenshots, 12)
		t.Logf("screenshots in %s", dir)
	}
	t.Logf("axe (minor and moderate findings allowed): %v", result.Axe)
	steps := regexp.MustCompile(`(?m)^step: .*$`).FindAllString(string(out), -1)
	t.Logf("the steps, with their start times:\n%s", strings.Join(steps, "\n"))

	// From outside the browser: the account's ledger holds the key's
	// enhance, its rotated secret's enhance and the try-it upscale (3
	// credits), and its only live key is the first one.
	caPEM, err := os.ReadFile(p.caPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
	body := strings.NewReader(`{"email": "` + email + `", "password": "a long dashboard passphrase"}`)
	resp, err := client.Post(p.base+"/v1/sessions", "application/json", body)
	require.NoError(t, err)
	var ses struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ses))
	resp.Body.Close()
	require.NotEmpty(t, ses.Token)
	get := func(path string, v any) {
		req, err := http.NewRequest(http.MethodGet, p.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+ses.Token)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	}
	var usage struct {
		CreditsUsed int
		Entries     []struct{ Operation, State string }
	}
	get("/v1/usage", &usage)
	require.Equal(t, 3, usage.CreditsUsed)
	ops := []string{}
	for _, e := range usage.Entries {
		ops = append(ops, e.Operation+":"+e.State)
	}
	require.ElementsMatch(t, []string{"enhance:final", "enhance:final", "upscale:final"}, ops)
	var keys struct {
		APIKeys []struct{ DisplayName string }
	}
	get("/v1/keys", &keys)
	require.Len(t, keys.APIKeys, 1)
	require.Equal(t, "default", keys.APIKeys[0].DisplayName)
}

// logTail is the last n lines of a log.
func logTail(log string, n int) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
