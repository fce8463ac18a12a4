package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/logtest"
)

// These tests build the real binary and drive it as an operator and the
// documented clients would.

var serverBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "enhanced-e2e")
	if err != nil {
		panic(err)
	}
	serverBinary = filepath.Join(dir, "enhanced")
	build := exec.Command("go", "build", "-tags", "nodynamic", "-o", serverBinary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type process struct {
	cmd     *exec.Cmd
	base    string
	dataDir string
	output  *logtest.Buffer
	exited  chan error
}

var restLine = regexp.MustCompile(`REST:\s+https://(\S+)`)

// start runs the binary as `make run` does, on loopback ports, and waits
// until it says it is serving.
func start(t *testing.T, dataDir string, extra ...string) *process {
	t.Helper()
	return startWithEnv(t, nil, dataDir, extra...)
}

// startWithEnv is start with env added to the server's environment.
func startWithEnv(t *testing.T, env []string, dataDir string, extra ...string) *process {
	t.Helper()
	args := append([]string{"--dev-account", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--metrics-addr", ""}, extra...)
	cmd := exec.Command(serverBinary, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &logtest.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = out
	cmd.Stderr = io.MultiWriter(out, pw)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, dataDir: dataDir, output: out, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1)
	go func() {
		// The banner comes first; "serving" means it is complete (the log
		// is JSON here, stderr being a pipe, unless a test asks for text).
		sc := bufio.NewScanner(pr)
		addr := ""
		for sc.Scan() {
			if m := restLine.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
			if (strings.Contains(sc.Text(), "msg=serving") || strings.Contains(sc.Text(), `"msg":"serving"`)) && addr != "" {
				found <- addr
			}
		}
	}()
	select {
	case addr := <-found:
		p.base = "https://" + addr
	case err := <-p.exited:
		t.Fatalf("server exited before serving (%v):\n%s", err, out.String())
	case <-time.After(2 * time.Minute): // generous: a loaded machine
		cmd.Process.Kill()
		t.Fatalf("server did not start:\n%s", out.String())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	return p
}

func (p *process) key(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dataDir, "dev-api-key"))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func (p *process) caPath() string { return filepath.Join(p.dataDir, "tls", "ca.pem") }

func TestRunPrintsAddressesAndDevelopmentKeyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, dir)
	key := p.key(t)
	require.Contains(t, p.output.String(), key, "the first start prints the key")
	require.Contains(t, p.output.String(), p.caPath())
	info, err := os.Stat(filepath.Join(dir, "dev-api-key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	password, err := os.ReadFile(filepath.Join(dir, "dev-password"))
	require.NoError(t, err)
	require.Contains(t, p.output.String(), "development account: dev@localhost, password "+strings.TrimSpace(string(password)))
	info, err = os.Stat(filepath.Join(dir, "dev-password"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	p.stop(t) // SIGTERM stops it cleanly
	require.Contains(t, p.output.String(), "stopped")

	again := start(t, dir)
	require.NotContains(t, again.output.String(), key, "later starts do not print the key again")
	require.Equal(t, key, again.key(t))

	// The key from the first start works against the second.
	caPEM, err := os.ReadFile(again.caPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodPost, again.base+"/v1/enhance", bytes.NewReader(readImage(t, "bird.png")))
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("x-api-key", key)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The shown email and password sign in, and the key manages keys.
	body := fmt.Sprintf(`{"email": "dev@localhost", "password": %q}`, strings.TrimSpace(string(password)))
	resp, err = client.Post(again.base+"/v1/sessions", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	req, _ = http.NewRequest(http.MethodGet, again.base+"/v1/keys", nil)
	req.Header.Set("x-api-key", key)
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func readImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	require.NoError(t, err)
	return b
}

// requireTool finds an interpreter for the documented client examples. In
// CI (CI=true) a missing one fails the test; elsewhere it skips.
func requireTool(t *testing.T, find func() (string, bool), what string) string {
	t.Helper()
	if path, ok := find(); ok {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI (.ci/run installs it)", what)
	}
	t.Skipf("%s not available", what)
	return ""
}

func pythonWithRequests() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import requests").Run() == nil {
			return py, true
		}
	}
	return "", false
}

func nodeWithFetch() (string, bool) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", false
	}
	if _, err := os.Stat(filepath.Join("..", "..", "testdata", "clients", "node_modules", "node-fetch")); err != nil {
		return "", false
	}
	return node, true
}

// documentedExample returns the product document's example with only the
// endpoint and image URL replaced.
func documentedExample(t *testing.T, name, endpoint, imageURL string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "clients", name))
	require.NoError(t, err)
	src := string(b)
	require.Contains(t, src, "https://api.smartimageenhancement.com/v1/enhance")
	require.Contains(t, src, "https://example.com/your_image_url.jpg")
	src = strings.ReplaceAll(src, "https://api.smartimageenhancement.com/v1/enhance", endpoint)
	return strings.ReplaceAll(src, "https://example.com/your_image_url.jpg", imageURL)
}

func TestDocumentedClientExamples(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), "--fetch-allow-private")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notes.txt" {
			w.Write([]byte("this is not an image"))
			return
		}
		w.Write(readImage(t, "kodim23.jpg"))
	}))
	t.Cleanup(origin.Close)
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "clients", "node_modules"))
	require.NoError(t, err)

	clients := []struct {
		name, file string
		find       func() (string, bool)
		env        []string
		authFailed string
		badRequest string
	}{
		{"python requests", "example.py", pythonWithRequests, []string{"REQUESTS_CA_BUNDLE=" + p.caPath()},
			"Authentication failed. Check your API key.", "Bad request: unsupported image format"},
		{"node node-fetch", "example.js", nodeWithFetch, []string{"NODE_EXTRA_CA_CERTS=" + p.caPath(), "NODE_PATH=" + abs},
			"Authentication failed: invalid or missing API key", "Bad request: unsupported image format"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			interp := requireTool(t, c.find, c.name)
			run := func(key, imageURL string) (string, string) {
				dir := t.TempDir()
				script := filepath.Join(dir, c.file)
				require.NoError(t, os.WriteFile(script, []byte(documentedExample(t, c.file, p.base+"/v1/enhance", imageURL)), 0o644))
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, interp, script)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), append(c.env, "SMART_IMAGE_ENHANCEMENT_API_KEY="+key)...)
				out, _ := cmd.CombinedOutput()
				return string(out), dir
			}

			out, dir := run(p.key(t), origin.URL+"/photo.jpg")
			require.Contains(t, out, "successful", out)
			f, err := os.Open(filepath.Join(dir, "enhanced_image.png"))
			require.NoError(t, err)
			img, err := png.Decode(f)
			f.Close()
			require.NoError(t, err, "the saved file is a valid PNG")
			require.Equal(t, 768, img.Bounds().Dx())

			out, _ = run("sie_wrong_key", origin.URL+"/photo.jpg")
			require.Contains(t, out, c.authFailed, out)

			out, _ = run(p.key(t), origin.URL+"/notes.txt")
			require.Contains(t, out, c.badRequest, out)
		})
	}
}

// TestExamplesMatchTheProductDocument keeps testdata/clients verbatim
// copies of the published examples (when the document is at hand).
func TestExamplesMatchTheProductDocument(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "product", "authentication-overview.txt"))
	if err != nil {
		t.Skip("product document not present beside the repository")
	}
	for _, name := range []string{"example.py", "example.js"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "clients", name))
		require.NoError(t, err)
		require.Contains(t, string(doc), string(b), name)
	}
}

// TestOnlyIntendedDecodersAreRegistered: this test binary links what the
// server links, so a dependency that quietly registers a GIF, BMP or TIFF
// decoder with package image shows up here.
func TestOnlyIntendedDecodersAreRegistered(t *testing.T) {
	t.Parallel()
	for name, head := range map[string]string{
		"GIF":             "GIF89a\x01\x00\x01\x00\x00\x00\x00",
		"BMP":             "BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00",
		"TIFF":            "II*\x00\x08\x00\x00\x00",
		"TIFF big-endian": "MM\x00*\x00\x00\x00\x08",
		"ICO":             "\x00\x00\x01\x00\x01\x00",
		"HEIF":            "\x00\x00\x00\x18ftypheic",
	} {
		_, _, err := image.DecodeConfig(strings.NewReader(head + strings.Repeat("\x00", 64)))
		require.ErrorIs(t, err, image.ErrFormat, "%s must have no decoder", name)
	}
	for _, name := range []string{"bird.png", "kodim23.jpg", "animated.webp"} {
		_, format, err := image.DecodeConfig(bytes.NewReader(readImage(t, name)))
		require.NoError(t, err, name)
		require.Contains(t, []string{"png", "jpeg", "webp"}, format)
	}
}
