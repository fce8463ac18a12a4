package app

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/clientaddr"
)

// countingListener counts the connections its listener accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestGatewayReachesGRPCInProcess: REST calls reach the gRPC server over
// the in-memory connection, never through its TCP port, and still pass
// every interceptor (the key is checked, the quota charged, the call
// logged, the gateway's word on its client believed for its proof); the
// TCP port still takes a direct caller at its TCP address, whatever
// gateway metadata it forges.
func TestGatewayReachesGRPCInProcess(t *testing.T) {
	t.Parallel()
	var tcp *countingListener
	s := startServerWith(t, nil, func(a *App) {
		tcp = &countingListener{Listener: a.grpcListener}
		a.grpcListener = tcp
	})
	img := tinyPNG(t, 32, 32)

	// An enhance: authenticated, charged, logged under its request id.
	ok := s.send(http.MethodPost, "/v1/enhance", "image/png", img, map[string]string{"x-api-key": s.key})
	require.NoError(t, ok.err)
	require.Equal(t, http.StatusOK, ok.status)
	require.Equal(t, "1", ok.header.Get("X-Credits-Charged"))
	require.Contains(t, s.logs.String(), ok.header.Get("X-Request-Id"))
	// A generated route (JSON through the mux), and readiness, which asks
	// the gRPC server's health service over the same connection.
	usage := s.send(http.MethodGet, "/v1/usage", "", nil, map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusOK, usage.status, string(usage.body))
	ready := s.send(http.MethodGet, "/readyz", "", nil, nil)
	require.Equal(t, http.StatusOK, ready.status, string(ready.body))
	// No key: refused by the authentication interceptor.
	none := s.send(http.MethodPost, "/v1/enhance", "image/png", img, nil)
	require.Equal(t, http.StatusUnauthorized, none.status)
	// A wrong key from 127.0.0.2: audited at the address the gateway
	// names, believed for its proof.
	wrong := s.from(t, "127.0.0.2").send(http.MethodGet, "/v1/usage", "", nil, map[string]string{"x-api-key": s.wrongSecret(t)})
	require.Equal(t, http.StatusUnauthorized, wrong.status)
	require.Equal(t, map[string]int{"127.0.0.2": 1}, s.auditedAddresses(t))
	require.Zero(t, tcp.accepted.Load(), "the gateway dialled the gRPC server's TCP port")

	// The TCP port: a caller forging the gateway's metadata is still its
	// TCP peer.
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", s.wrongSecret(t),
		clientaddr.ClientHeader, "203.0.113.9", clientaddr.ProofHeader, strings.Repeat("A", len(clientaddr.NewProof())))
	_, err := enhancev1.NewUsageServiceClient(s.grpc).GetUsage(ctx, &enhancev1.GetUsageRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Equal(t, map[string]int{"127.0.0.2": 1, "127.0.0.1": 1}, s.auditedAddresses(t))
	require.Equal(t, int64(1), tcp.accepted.Load(), "the direct caller's connection")
}
