package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
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

func TestPanicBecomesInternalErrorWithRequestID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := tlsconfig.Load("", "", filepath.Join(dir, "tls"), time.Now())
	require.NoError(t, err)
	db, err := storesqlite.Open(context.Background(), filepath.Join(dir, "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	verifier, err := auth.NewVerifier(db, codec, nil)
	require.NoError(t, err)
	ledger, err := credits.NewLedger(db, nil)
	require.NoError(t, err)
	logs := &syncBuffer{}
	srv, err := New(Config{
		TLS: tlsconfig.ServerConfig(src.Certificate, []string{"h2"}), MaxRecvBytes: 1 << 20, MaxSendBytes: 1 << 20,
		RequestTimeout: time.Second,
	}, verifier, db, ledger, grpcprom.NewServerMetrics(), slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	healthpb.RegisterHealthServer(srv, panickingHealth{})
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

	var header metadata.MD
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	require.Equal(t, codes.Internal, status.Code(err))
	msg := status.Convert(err).Message()
	require.True(t, strings.HasPrefix(msg, "internal error (request id "), msg)
	require.NotContains(t, msg, "boom")
	require.NotContains(t, msg, "goroutine", "no stack trace reaches the caller")
	require.Contains(t, logs.String(), "boom: secret detail", "the cause goes to the log")

	// A second server with no TLS config is refused at construction.
	_, err = New(Config{}, verifier, db, ledger, grpcprom.NewServerMetrics(), slog.Default())
	require.Error(t, err)
}
