package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/logtest"
)

// testServer is a real server on loopback ports with TLS and SQLite.
type testServer struct {
	app    *App
	cfg    config.Config
	base   string
	http   *http.Client
	grpc   *grpc.ClientConn
	key    string
	logs   *logtest.Buffer
	cancel context.CancelFunc
	done   chan error
}

func testConfig(t testing.TB) config.Config {
	t.Helper()
	cfg, err := config.Load([]string{
		"--http-addr", "127.0.0.1:0",
		"--grpc-addr", "127.0.0.1:0",
		"--metrics-addr", "127.0.0.1:0",
		"--data-dir", t.TempDir(),
		"--dev-account",
		"--fetch-allow-private",
		"--workers", "2",
		"--shutdown-timeout", "10s",
		// As long as the client waits: under two test runs at once with
		// the race detector, a request can queue for more than the
		// default 30 s, and no test here is about speed.
		"--request-timeout", "2m",
	}, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	return cfg
}

// testHashCost is the cheapest argon2id cost the server accepts.
var testHashCost = auth.Cost{MemoryKiB: 8, Passes: 1}

func startServer(t testing.TB, mutate func(*config.Config), opts ...Option) *testServer {
	t.Helper()
	return startServerWith(t, mutate, nil, opts...)
}

// startServerWith is startServer, with beforeRun given the server between
// New and Run (to wrap a listener, say).
func startServerWith(t testing.TB, mutate func(*config.Config), beforeRun func(*App), opts ...Option) *testServer {
	t.Helper()
	cfg := testConfig(t)
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	// Password hashes at a test's cost: these tests are about the API, and
	// under the race detector a default hash takes most of a second
	// (halving the package's time). The default cost is tested in
	// internal/auth and, on the real binary, in cmd/enhanced.
	opts = append([]Option{WithHashCost(testHashCost)}, opts...)
	a, err := New(ctx, cfg, log, opts...)
	require.NoError(t, err)
	if beforeRun != nil {
		beforeRun(a)
	}
	s := &testServer{app: a, cfg: cfg, base: "https://" + a.HTTPAddr(), key: a.DevKey(), logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Run(ctx) }()

	caPEM, err := os.ReadFile(a.CAPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	s.http = &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, ForceAttemptHTTP2: true,
			// Requests share a few connections, as a real client's do:
			// two hundred TLS handshakes at once on a loaded machine
			// outlast the server's header timeout (unexpected EOF).
			MaxConnsPerHost: 4,
		},
		// Generous: a loaded 2-core machine running the race detector
		// may queue a request for a long time; no test is about speed.
		Timeout: 2 * time.Minute,
	}
	s.grpc, err = grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})))
	require.NoError(t, err)
	t.Cleanup(func() {
		s.grpc.Close()
		s.stop(t)
		if t.Failed() {
			// What the server logged at WARN and above, to say why.
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Log(strings.TrimSpace(line))
				}
			}
		}
	})
	return s
}

func (s *testServer) stop(t testing.TB) {
	s.cancel()
	select {
	case err := <-s.done:
		require.NoError(t, err)
		s.done <- nil // later calls return at once
	case <-time.After(time.Minute): // shutdown waits 10 s at most; the rest is a loaded machine
		t.Fatal("server did not stop")
	}
}

// post sends body to path with the given headers.
func (s *testServer) post(t testing.TB, path, contentType string, body []byte, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	return resp
}

// answer is what send saw: safe to collect from other goroutines, where
// require must not be called.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	problem problem
	err     error
}

// send makes one request and reads the whole answer; unlike post it never
// fails the test, so goroutines may call it.
func (s *testServer) send(method, path, contentType string, body []byte, headers map[string]string) answer {
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return answer{err: err}
	}
	return readAnswer(resp)
}

// readAnswer reads and closes resp, decoding a problem body.
func readAnswer(resp *http.Response) answer {
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.body, a.err = io.ReadAll(resp.Body); a.err == nil && resp.StatusCode >= 400 {
		a.err = json.Unmarshal(a.body, &a.problem)
	}
	return a
}

// tinyPNG is a w×h gradient: an image every call accepts, cheap to work on.
func tinyPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

func (s *testServer) postJSON(t testing.TB, path string, v any, key string) *http.Response {
	t.Helper()
	body, err := json.Marshal(v)
	require.NoError(t, err)
	h := map[string]string{}
	if key != "" {
		h["x-api-key"] = key
	}
	return s.post(t, path, "application/json", body, h)
}

// problem reads a JSON error body and checks its invariants.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Param     string `json:"param"`
	RequestID string `json:"requestId"`
}

func readProblem(t testing.TB, resp *http.Response) problem {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, resp.StatusCode, p.Status)
	require.NotEmpty(t, p.Detail)
	require.NotEmpty(t, p.Code)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, resp.Header.Get("X-Request-Id"), p.RequestID)
	return p
}

// origin serves the project's test images over plain HTTP on loopback.
func origin(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join("..", "..", "testdata", "images"))))
	t.Cleanup(srv.Close)
	return srv
}

// originOf serves files (path to bytes) over plain HTTP on loopback.
func originOf(t testing.TB, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// halfJPEG is a test photo at half its width and height (2×2 means).
func halfJPEG(t testing.TB, name string) []byte {
	t.Helper()
	src, _, err := image.Decode(bytes.NewReader(testImage(t, name)))
	require.NoError(t, err)
	b := src.Bounds()
	half := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range b.Dy() / 2 {
		for x := range b.Dx() / 2 {
			var sum [3]uint32
			for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				r, g, bl, _ := src.At(b.Min.X+2*x+d[0], b.Min.Y+2*y+d[1]).RGBA()
				sum[0], sum[1], sum[2] = sum[0]+r, sum[1]+g, sum[2]+bl
			}
			half.SetRGBA(x, y, color.RGBA{uint8(sum[0] >> 10), uint8(sum[1] >> 10), uint8(sum[2] >> 10), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, half, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

func testImage(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	require.NoError(t, err)
	return data
}

// call sends a JSON request (body may be nil) with the given headers and
// decodes a 2xx JSON answer into out (when not nil).
func (s *testServer) call(t testing.TB, method, path string, body any, headers map[string]string, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	require.NoError(t, err)
	if out != nil && resp.StatusCode/100 == 2 {
		defer resp.Body.Close()
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

const testPassword = "correct horse battery staple"

// signUpAndIn registers email and returns a session token for it.
func (s *testServer) signUpAndIn(t testing.TB, email string) string {
	t.Helper()
	resp := s.call(t, http.MethodPost, "/v1/accounts", map[string]any{"email": email, "password": testPassword}, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	return s.signIn(t, email)
}

func (s *testServer) signIn(t testing.TB, email string) string {
	t.Helper()
	var ses struct {
		Token      string    `json:"token"`
		ExpireTime time.Time `json:"expireTime"`
	}
	resp := s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": email, "password": testPassword}, nil, &ses)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, ses.Token)
	return ses.Token
}

// apiKey is the JSON form of a key.
type apiKey struct {
	Name                     string     `json:"name"`
	DisplayName              string     `json:"displayName"`
	Scopes                   []string   `json:"scopes"`
	Secret                   string     `json:"secret"`
	Prefix                   string     `json:"prefix"`
	ExpireTime               *time.Time `json:"expireTime"`
	LastUseTime              *time.Time `json:"lastUseTime"`
	PreviousSecretExpireTime *time.Time `json:"previousSecretExpireTime"`
}

func (k apiKey) id() string { return strings.TrimPrefix(k.Name, "keys/") }

// createKey makes a key through REST with a session and returns its secret.
func (s *testServer) createKey(t testing.TB, token, name string, scopes ...string) string {
	t.Helper()
	var out struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp := s.call(t, http.MethodPost, "/v1/keys", map[string]any{"displayName": name, "scopes": scopes}, bearer(token), &out)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, out.APIKey.Secret)
	return out.APIKey.Secret
}

// grantDev gives the development account n extra credits this month.
func (s *testServer) grantDev(t testing.TB, n int) {
	t.Helper()
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Grant(context.Background(), acct.ID, n, "tests"))
}

// setDevPlan moves the development account to plan, effective at once.
func (s *testServer) setDevPlan(t testing.TB, plan string) {
	t.Helper()
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.SetPlan(context.Background(), acct.ID, plan))
	keys, err := s.app.Store().APIKeys(context.Background(), acct.ID)
	require.NoError(t, err)
	for _, k := range keys {
		s.app.verifier.Forget(k.ID)
	}
}
