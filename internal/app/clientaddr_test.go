package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/clientaddr"
)

// wrongSecret is the development key with its secret changed: it names a
// real key, so failures with it are audited on the key's account.
func (s *testServer) wrongSecret(t *testing.T) string {
	t.Helper()
	parts := strings.Split(s.key, "_")
	require.Len(t, parts, 4)
	parts[2] = strings.Repeat("x", len(parts[2]))
	return strings.Join(parts, "_")
}

// auditedAddresses are the client addresses of the development account's
// failed authentications.
func (s *testServer) auditedAddresses(t *testing.T) map[string]int {
	t.Helper()
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	events, err := s.app.Store().AuditEvents(context.Background(), acct.ID, 0, 1000)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range events {
		if e.Kind == "auth.failed" {
			seen[e.ClientAddress]++
		}
	}
	return seen
}

// TestGRPCCallersCannotClaimAnotherAddress: a direct gRPC caller is its
// TCP peer, whatever it says in x-forwarded-for or in the gateway's own
// headers without the gateway's proof, so its failures add up and block
// it, and the audit log records where it really is.
func TestGRPCCallersCannotClaimAnotherAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewUsageServiceClient(s.grpc)
	bad := s.wrongSecret(t)
	var codesSeen []codes.Code
	for i := range 25 {
		forged := fmt.Sprintf("203.0.113.%d", i+1)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", bad,
			"x-forwarded-for", forged, clientaddr.ClientHeader, forged, clientaddr.ProofHeader, "a guess")
		_, err := client.GetUsage(ctx, &enhancev1.GetUsageRequest{})
		codesSeen = append(codesSeen, status.Code(err))
	}
	require.Equal(t, codes.Unauthenticated, codesSeen[0])
	require.Equal(t, codes.ResourceExhausted, codesSeen[24], "blocked: every failure counted against the one real address")
	require.Equal(t, map[string]int{"127.0.0.1": 21}, s.auditedAddresses(t), "20 failures, one more answered, then blocked")
}

// TestRESTClientAddressIsTheConnection: over REST the gateway names its
// client by the connection, and headers a client sends cannot change it.
func TestRESTClientAddressIsTheConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	headers := map[string]string{
		"x-api-key":                             s.wrongSecret(t),
		"X-Forwarded-For":                       "203.0.113.7",
		"X-Enhance-Client":                      "203.0.113.8",
		"X-Enhance-Gateway-Proof":               "a guess",
		"Grpc-Metadata-X-Enhance-Client":        "203.0.113.9",
		"Grpc-Metadata-X-Enhance-Gateway-Proof": "a guess",
	}
	// The client connects from 127.0.0.2; the gateway reaches the gRPC
	// server from 127.0.0.1, so 127.0.0.2 in the log is the gateway's
	// word, believed for its proof.
	transport := s.http.Transport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext
	from := *s
	from.http = &http.Client{Transport: transport, Timeout: s.http.Timeout}
	a := from.send(http.MethodGet, "/v1/usage", "", nil, headers)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Equal(t, map[string]int{"127.0.0.2": 1}, s.auditedAddresses(t))
}
