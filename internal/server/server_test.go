package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/tlsconfig"
)

// panickingHealth is a real service whose Check panics, to exercise the
// recovery interceptor through a real TLS connection.
type panickingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (panickingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		panic("no deadline: the deadline interceptor did not run")
	}
	panic("boom: secret detail")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// chain is a real gRPC server with the full interceptor chain on a
// loopback TLS port, an account "a1" holding 50 credits and an API key
// for it, and a client connection.
type chain struct {
	conn    *grpc.ClientConn
	db      *storesqlite.Store
	ledger  *credits.Ledger
	metrics *prometheus.Registry
	logs    *syncBuffer
	key     string
}

func newChain(t *testing.T, access access.Table, register func(*grpc.Server)) *chain {
	t.Helper()
	dir := t.TempDir()
	src, err := tlsconfig.Load("", "", filepath.Join(dir, "tls"), time.Now())
	require.NoError(t, err)
	db, err := storesqlite.Open(context.Background(), filepath.Join(dir, "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	tok, err := codec.New(auth.APIKey)
	require.NoError(t, err)
	now := time.Now().UTC()
	require.NoError(t, db.CreateAccount(context.Background(),
		store.Account{ID: "a1", Email: "a@example.com", PasswordHash: "h", CreateTime: now, Plan: "free"},
		store.APIKey{ID: tok.ID, AccountID: "a1", SecretHash: tok.SecretHash(), Scopes: auth.AllScopes, CreateTime: now}))
	verifier, err := auth.NewVerifier(db, codec, nil)
	require.NoError(t, err)
	ledger, err := credits.NewLedger(db, "", nil)
	require.NoError(t, err)
	logs := &syncBuffer{}
	metrics := grpcprom.NewServerMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	srv, err := New(Config{
		TLS: tlsconfig.ServerConfig(src.Certificate, []string{"h2"}), MaxRecvBytes: 1 << 20, MaxSendBytes: 1 << 20,
		RequestTimeout: time.Minute, Access: access, Errors: apiv1.Errors,
	}, verifier, db, ledger, metrics, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	register(srv)
	require.NoError(t, CheckAccess(srv, access))
	metrics.InitializeMetrics(srv)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)

	caPEM, err := os.ReadFile(src.CAPath)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &chain{conn: conn, db: db, ledger: ledger, metrics: reg, logs: logs, key: codec.Format(tok)}
}

// handled is grpc_server_handled_total for method and code.
func (c *chain) handled(t *testing.T, method string, code codes.Code) float64 {
	t.Helper()
	families, err := c.metrics.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["grpc_method"] == method && labels["grpc_code"] == code.String() {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestPanicBecomesInternalErrorWithRequestID(t *testing.T) {
	t.Parallel()
	c := newChain(t, access.Table{}, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, panickingHealth{}) })
	var header metadata.MD
	_, err := healthpb.NewHealthClient(c.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	require.Equal(t, codes.Internal, status.Code(err))
	msg := status.Convert(err).Message()
	require.True(t, strings.HasPrefix(msg, "internal error (request id "), msg)
	require.Contains(t, msg, header.Get("x-request-id")[0])
	require.NotContains(t, msg, "boom")
	require.NotContains(t, msg, "goroutine", "no stack trace reaches the caller")
	require.Contains(t, c.logs.String(), "boom: secret detail", "the cause goes to the log")
	require.Equal(t, 1.0, c.handled(t, "Check", codes.Internal), "a panicked call is counted")

	// A server without TLS config or access table is refused at construction.
	_, err = New(Config{}, nil, nil, nil, grpcprom.NewServerMetrics(), slog.Default())
	require.Error(t, err)
}

// flakyImages reserves credits and then panics on its first Enhance, as
// a bug would; later calls succeed.
type flakyImages struct {
	enhancev1.UnimplementedImageServiceServer
	calls atomic.Int32
	fail  func(ctx context.Context) error
}

func (f *flakyImages) Enhance(ctx context.Context, _ *enhancev1.EnhanceRequest) (*enhancev1.EnhanceResponse, error) {
	m, ok := credits.MeterFrom(ctx)
	if !ok {
		return nil, errors.New("no meter")
	}
	if err := m.Reserve(ctx, credits.OpEnhance, 3); err != nil {
		return nil, err
	}
	if f.calls.Add(1) == 1 {
		if f.fail != nil {
			return nil, f.fail(ctx)
		}
		panic("bug with a secret: /var/lib/enhance")
	}
	return &enhancev1.EnhanceResponse{WidthPixels: 7}, nil
}

var imagesAccess = access.Table{
	enhancev1.ImageService_Enhance_FullMethodName:  {Scope: auth.ScopeImagesEnhance, Idempotent: true},
	enhancev1.ImageService_Upscale_FullMethodName:  {Scope: auth.ScopeImagesUpscale, Idempotent: true},
	enhancev1.ImageService_Colorize_FullMethodName: {Scope: auth.ScopeImagesColorize, Idempotent: true},

	enhancev1.ImageService_EnhanceStream_FullMethodName:  {Scope: auth.ScopeImagesEnhance, Idempotent: true},
	enhancev1.ImageService_UpscaleStream_FullMethodName:  {Scope: auth.ScopeImagesUpscale, Idempotent: true},
	enhancev1.ImageService_ColorizeStream_FullMethodName: {Scope: auth.ScopeImagesColorize, Idempotent: true},
}

func TestHandlerPanicIsRefundedReleasesItsIdempotencyKeyAndIsCounted(t *testing.T) {
	t.Parallel()
	images := &flakyImages{}
	c := newChain(t, imagesAccess, func(s *grpc.Server) { enhancev1.RegisterImageServiceServer(s, images) })
	client := enhancev1.NewImageServiceClient(c.conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", c.key, "idempotency-key", "order-1")

	_, err := client.Enhance(ctx, &enhancev1.EnhanceRequest{Image: []byte{1}})
	require.Equal(t, codes.Internal, status.Code(err))
	require.NotContains(t, status.Convert(err).Message(), "/var/lib")
	require.Contains(t, c.logs.String(), "bug with a secret")
	u, err := c.ledger.Usage(context.Background(), "a1")
	require.NoError(t, err)
	require.Zero(t, u.Balance.Used, "the panicked call's charge is refunded")
	require.Equal(t, 1.0, c.handled(t, "Enhance", codes.Internal), "and counted")

	// The retry with the same key runs (no 409) and is charged once.
	resp, err := client.Enhance(ctx, &enhancev1.EnhanceRequest{Image: []byte{1}})
	require.NoError(t, err)
	require.Equal(t, int32(7), resp.GetWidthPixels())
	u, err = c.ledger.Usage(context.Background(), "a1")
	require.NoError(t, err)
	require.Equal(t, 3, u.Balance.Used)
}

func TestErrorsBecomeStatusesInOnePlace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fail    func(ctx context.Context) error
		code    codes.Code
		reason  apierror.Reason
		message string
		param   string
	}{
		{"internal error with a cause", func(context.Context) error {
			return errors.New("storesqlite: read idempotent call: disk I/O error")
		}, codes.Internal, apierror.Internal, "internal error (request id ", ""},
		{"domain error with its field", func(context.Context) error {
			return apierror.Paramf("outputFormat", engine.ErrInvalidOption, "outputFormat %q is not one of png, jpeg, webp", "gif")
		}, codes.InvalidArgument, apierror.InvalidOption, `outputFormat "gif" is not one of png, jpeg, webp`, "outputFormat"},
		{"deadline deep in the store", func(context.Context) error {
			return fmt.Errorf("storesqlite: reserve: %w", context.DeadlineExceeded)
		}, codes.DeadlineExceeded, apierror.DeadlineExceeded, "the request did not finish before its deadline", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newChain(t, imagesAccess, func(s *grpc.Server) {
				enhancev1.RegisterImageServiceServer(s, &flakyImages{fail: tt.fail})
			})
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", c.key)
			_, err := enhancev1.NewImageServiceClient(c.conn).Enhance(ctx, &enhancev1.EnhanceRequest{})
			st := status.Convert(err)
			require.Equal(t, tt.code, st.Code())
			require.Equal(t, tt.reason, apierror.ReasonOf(st))
			require.Contains(t, st.Message(), tt.message)
			require.Equal(t, tt.param, apierror.FieldOf(st))
			require.NotContains(t, st.Message(), "storesqlite")
			u, err := c.ledger.Usage(context.Background(), "a1")
			require.NoError(t, err)
			require.Zero(t, u.Balance.Used, "a failed call is refunded")
		})
	}
}

func TestInterceptorRefusalsAreStatuses(t *testing.T) {
	t.Parallel()
	c := newChain(t, imagesAccess, func(s *grpc.Server) { enhancev1.RegisterImageServiceServer(s, &flakyImages{}) })
	client := enhancev1.NewImageServiceClient(c.conn)
	tests := []struct {
		name   string
		md     []string
		code   codes.Code
		reason apierror.Reason
	}{
		{"no key", nil, codes.Unauthenticated, apierror.Unauthenticated},
		{"bad key", []string{"x-api-key", "sie_nope"}, codes.Unauthenticated, apierror.Unauthenticated},
		{"idempotency key too long", []string{"x-api-key", c.key, "idempotency-key", strings.Repeat("k", 256)}, codes.InvalidArgument, apierror.InvalidIdempotencyKey},
		{"two idempotency keys", []string{"x-api-key", c.key, "idempotency-key", "a", "idempotency-key", "b"}, codes.InvalidArgument, apierror.InvalidIdempotencyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), tt.md...)
			_, err := client.Enhance(ctx, &enhancev1.EnhanceRequest{})
			st := status.Convert(err)
			require.Equal(t, tt.code, st.Code(), st.Message())
			require.Equal(t, tt.reason, apierror.ReasonOf(st))
		})
	}
	// Upscale has a rule; a method with none is refused, never opened.
	_, err := client.Upscale(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", c.key), &enhancev1.UpscaleRequest{})
	require.Equal(t, codes.Unimplemented, status.Code(err), "the fake does not implement it, but the key was checked first")
}

func TestClientRequestIDIsKeptWhenWellFormed(t *testing.T) {
	t.Parallel()
	c := newChain(t, access.Table{}, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, panickingHealth{}) })
	for id, kept := range map[string]bool{"3f2b8c1e-9d4a.ULID_7": true, "has space": false, strings.Repeat("a", 65): false} {
		var header metadata.MD
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", id)
		_, _ = healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
		got := header.Get("x-request-id")
		require.Len(t, got, 1)
		require.Equal(t, kept, got[0] == id, "%q", id)
		require.True(t, requestid.Valid(got[0]))
	}
}

func TestCheckAccessFindsAMethodWithoutARule(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	enhancev1.RegisterImageServiceServer(srv, &flakyImages{})
	healthpb.RegisterHealthServer(srv, panickingHealth{})
	partial := access.Table{enhancev1.ImageService_Enhance_FullMethodName: {}}
	err := CheckAccess(srv, partial)
	require.ErrorContains(t, err, enhancev1.ImageService_Upscale_FullMethodName)
	require.ErrorContains(t, err, enhancev1.ImageService_Colorize_FullMethodName)
	require.NotContains(t, err.Error(), "grpc.health", "infrastructure needs no rule")
	require.NoError(t, CheckAccess(srv, imagesAccess))
}
