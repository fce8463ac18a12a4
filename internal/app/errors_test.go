package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine/enginetest"
	"github.com/smartimage/enhance/internal/store"
)

// internalText is what no error body may contain: the words of Go,
// protobuf, gRPC or SQLite, paths and stacks, which mean a cause escaped
// to the caller.
var internalText = []string{
	"proto:", "protobuf", "google.", "grpc:", "rpc error", "storesqlite", "sqlite", "SQL",
	"invalid character", "context deadline exceeded", "context canceled", "goroutine", "panic",
	".go:", "runtime error", "nil pointer", "/internal/", "/work/", "\u00a0", "header key", "non-printable",
}

// unreachableReasons are the reasons no client request can produce from
// a correctly built server, each with where it is tested instead.
var unreachableReasons = map[apierror.Reason]string{
	// A registered method without an access rule stops the server from
	// starting (server.CheckAccess; TestCheckAccessFindsAMethodWithoutARule).
	apierror.Unimplemented: "guarded at start",
	// The client that went away reads no answer; the refund is tested by
	// TestClientThatLeavesFreesItsWorkerAndIsRefunded.
	apierror.Cancelled: "nobody reads it",
	// The gateway and the gRPC server live and die together (Run stops
	// both when either fails), so the gateway never finds it gone; the
	// answer it would give is tested by the gateway's own tests.
	apierror.Unavailable: "one process",
}

// TestEveryErrorReason produces every reason the server has, over REST,
// and checks each answer's status, code and problem shape, and that no
// body carries internal text. A reason added to apierror.Reasons without
// a case here fails the test.
func TestEveryErrorReason(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) {
		c.MaxBodyBytes = 300 << 10
		c.MaxSourcePixels = 300_000
	})
	closed := startServer(t, func(c *config.Config) { c.RegistrationClosed = true })
	broken := startServer(t, nil)
	key := map[string]string{"x-api-key": s.key}
	png := tinyPNG(t, 16, 16)
	origin := origin(t)
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 400<<10)...))
	}))
	t.Cleanup(huge.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	token := s.signUpAndIn(t, "errors@example.com")
	session := bearer(token)
	enhanceOnly := s.createKey(t, token, "enhance only", auth.ScopeImagesEnhance)

	// An account with no credits left, and one at its key limit.
	broke := s.signUpAndIn(t, "broke@example.com")
	brokeKey := s.createKey(t, broke, "k", auth.ScopeImagesEnhance)
	brokeAcct, err := s.app.Store().AccountByEmail(context.Background(), "broke@example.com")
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), brokeAcct.ID, "k", credits.OpEnhance, "setup", credits.Plans["free"].MonthlyCredits)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))
	full := s.signUpAndIn(t, "full@example.com")
	fullAcct, err := s.app.Store().AccountByEmail(context.Background(), "full@example.com")
	require.NoError(t, err)
	for i := range 99 {
		require.NoError(t, s.app.Store().CreateAPIKey(context.Background(), store.APIKey{
			ID: fmt.Sprintf("full%012d", i), AccountID: fullAcct.ID, SecretHash: []byte{1}, Scopes: []string{auth.ScopeUsageRead}, CreateTime: time.Now(),
		}, store.AuditEvent{AccountID: fullAcct.ID, Time: time.Now(), Kind: "key.created"}, 1000))
	}

	// A call still running under an Idempotency-Key.
	s.holdIdempotencyKey(t, "running", &enhancev1.EnhanceRequest{Image: png})
	a := s.send(http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": s.key, "Idempotency-Key": "done"})
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status)

	type want struct {
		status int
		param  string
	}
	raw := func(srv *testServer, method, path, contentType string, body []byte, headers map[string]string) func() answer {
		return func() answer { return srv.send(method, path, contentType, body, headers) }
	}
	withKey := func(extra map[string]string) map[string]string {
		h := map[string]string{"x-api-key": s.key}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	cases := []struct {
		reason apierror.Reason
		send   func() answer
		want   want
	}{
		{apierror.MalformedRequest, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "x"`), key), want{400, ""}},
		{apierror.BadBody, func() answer { return s.sendCutShort(t, "/v1/enhance") }, want{400, ""}},
		{apierror.InvalidRequest, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{}`), key), want{400, "imageUrl"}},
		{apierror.InvalidOption, raw(s, http.MethodPost, "/v1/enhance?outputFormat=gif", "image/png", png, key), want{400, "outputFormat"}},
		{apierror.UnsupportedImage, raw(s, http.MethodPost, "/v1/enhance", "image/png", []byte("hello"), key), want{400, ""}},
		{apierror.InvalidImage, raw(s, http.MethodPost, "/v1/enhance", "image/png", png[:len(png)/2], key), want{400, ""}},
		{apierror.ImageTooLarge, raw(s, http.MethodPost, "/v1/enhance", "image/png", enginetest.PNGHeaderOnly(16384, 16384), key), want{400, ""}},
		{apierror.UnsupportedMediaType, raw(s, http.MethodPost, "/v1/enhance", "image/tiff", []byte("II*\x00"), key), want{415, ""}},
		{apierror.BodyTooLarge, raw(s, http.MethodPost, "/v1/enhance", "image/png", make([]byte, 400<<10), key), want{413, ""}},
		{apierror.SourceRefused, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "file:///etc/passwd"}`), key), want{400, "imageUrl"}},
		{apierror.SourceUnreachable, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+origin.URL+`/missing.png"}`), key), want{422, "imageUrl"}},
		{apierror.SourceTooLarge, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+huge.URL+`/x.png"}`), key), want{400, "imageUrl"}},
		{apierror.Unauthenticated, raw(s, http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": "sie_nope"}), want{401, ""}},
		{apierror.MissingScope, raw(s, http.MethodPost, "/v1/upscale", "image/png", png, map[string]string{"x-api-key": enhanceOnly}), want{403, ""}},
		{apierror.CreditsExhausted, raw(s, http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": brokeKey}), want{402, ""}},
		{apierror.RateLimited, func() answer {
			for range 25 {
				closed.send(http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": "sie_wrong"})
			}
			return closed.send(http.MethodPost, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": closed.key})
		}, want{429, ""}},
		{apierror.IdempotencyKeyReused, raw(s, http.MethodPost, "/v1/enhance?outputFormat=jpeg", "image/png", png, withKey(map[string]string{"Idempotency-Key": "done"})), want{422, ""}},
		{apierror.IdempotencyKeyInUse, raw(s, http.MethodPost, "/v1/enhance", "image/png", png, withKey(map[string]string{"Idempotency-Key": "running"})), want{409, ""}},
		{apierror.InvalidIdempotencyKey, raw(s, http.MethodPost, "/v1/enhance", "image/png", png, withKey(map[string]string{"Idempotency-Key": "commande-n°1"})), want{400, "Idempotency-Key"}},
		{apierror.SessionRequired, raw(s, http.MethodGet, "/v1/account/export", "", nil, key), want{403, ""}},
		{apierror.BadCredentials, raw(s, http.MethodPost, "/v1/sessions", "application/json", []byte(`{"email": "errors@example.com", "password": "not the password at all"}`), nil), want{401, ""}},
		{apierror.WrongPassword, raw(s, http.MethodDelete, "/v1/account", "application/json", []byte(`{"password": "not the password at all"}`), session), want{403, ""}},
		{apierror.InvalidRegistration, raw(s, http.MethodPost, "/v1/accounts", "application/json", []byte(`{"email": "nope", "password": "long enough password"}`), nil), want{400, "email"}},
		{apierror.EmailTaken, raw(s, http.MethodPost, "/v1/accounts", "application/json", []byte(`{"email": "errors@example.com", "password": "long enough password"}`), nil), want{409, ""}},
		{apierror.RegistrationClosed, raw(closed, http.MethodPost, "/v1/accounts", "application/json", []byte(`{"email": "new@example.com", "password": "long enough password"}`), nil), want{403, ""}},
		{apierror.InvalidKeyRequest, raw(s, http.MethodPost, "/v1/keys", "application/json", []byte(`{"displayName": "x", "scopes": ["images:everything"]}`), session), want{400, ""}},
		{apierror.KeyNotFound, raw(s, http.MethodGet, "/v1/keys/nosuchkey", "", nil, session), want{404, ""}},
		{apierror.TooManyKeys, raw(s, http.MethodPost, "/v1/keys", "application/json", []byte(`{"displayName": "one too many", "scopes": ["usage:read"]}`), bearer(full)), want{422, ""}},
		{apierror.NotFound, raw(s, http.MethodGet, "/v1/nothing-here", "", nil, key), want{404, ""}},
		{apierror.MethodNotAllowed, raw(s, http.MethodPut, "/v1/enhance", "application/json", []byte(`{}`), key), want{405, ""}},
		// Grpc-Timeout 1m is one millisecond, and the origin is slow.
		{apierror.DeadlineExceeded, raw(s, http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": "`+slow.URL+`/x.png"}`), withKey(map[string]string{"Grpc-Timeout": "1m"})), want{504, ""}},
		// The broken server loses its database.
		{apierror.NotReady, func() answer {
			require.NoError(t, broken.app.Store().Close())
			return broken.send(http.MethodGet, "/readyz", "", nil, nil)
		}, want{503, ""}},
		{apierror.Internal, raw(broken, http.MethodGet, "/v1/usage", "", nil, map[string]string{"x-api-key": broken.key}), want{500, ""}},
	}
	covered := map[apierror.Reason]bool{}
	for _, tt := range cases {
		t.Run(string(tt.reason), func(t *testing.T) {
			covered[tt.reason] = true
			a := tt.send()
			require.NoError(t, a.err)
			require.Equal(t, tt.want.status, a.status, "%s", a.body)
			require.Equal(t, string(tt.reason), a.problem.Code, a.problem.Detail)
			require.Equal(t, tt.want.status, a.problem.Status)
			require.NotEmpty(t, a.problem.Detail)
			require.Equal(t, a.header.Get("X-Request-Id"), a.problem.RequestID)
			require.Equal(t, tt.want.param, a.problem.Param)
			for _, bad := range internalText {
				require.NotContains(t, string(a.body), bad, "internal text reached the caller")
			}
			if tt.reason == apierror.Internal {
				require.Equal(t, "internal error (request id "+a.problem.RequestID+")", a.problem.Detail)
				require.Contains(t, broken.logs.String(), "request_id="+a.problem.RequestID, "the cause is in the log")
			}
			if tt.want.status == 429 {
				require.NotEmpty(t, a.header.Get("Retry-After"))
			}
		})
	}
	for _, r := range apierror.Reasons {
		if _, excused := unreachableReasons[r]; !excused {
			require.True(t, covered[r], "no case produces %s", r)
		}
	}
}

// sendCutShort sends a request whose body ends before its
// Content-Length, over HTTP/1.1, and reads the answer.
func (s *testServer) sendCutShort(t *testing.T, path string) answer {
	t.Helper()
	caPEM, err := os.ReadFile(s.app.CAPath())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := tls.Dial("tcp", s.app.HTTPAddr(), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nX-Api-Key: %s\r\nContent-Length: 100\r\n\r\n{\"imageUrl", path, s.key)
	require.NoError(t, err)
	require.NoError(t, conn.CloseWrite())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return answer{err: err}
	}
	return readAnswer(resp)
}

// TestGRPCCallersSeeTheSameReasons spot-checks the gRPC door: the same
// ErrorInfo reasons and the field in a BadRequest.
func TestGRPCCallersSeeTheSameReasons(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewImageServiceClient(s.grpc)
	_, err := client.Enhance(withKey(s.key), &enhancev1.EnhanceRequest{Image: tinyPNG(t, 8, 8), OutputFormat: "gif"})
	require.Equal(t, string(apierror.InvalidOption), reasonOf(err))
	require.Equal(t, "outputFormat", apierror.FieldOf(status.Convert(err)))
	_, err = client.Upscale(withKey(s.key), &enhancev1.UpscaleRequest{Image: tinyPNG(t, 8, 8), ScaleFactor: 9})
	require.Equal(t, "scaleFactor", apierror.FieldOf(status.Convert(err)))
	for _, bad := range internalText {
		require.NotContains(t, status.Convert(err).Message(), bad)
	}
}
