package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// TestShortDeadlinesBuyNoHashes: registrations sent with a deadline too
// short to be answered are refused before their hash, so none makes an
// account, and, having cost nothing, none counts against the address.
func TestShortDeadlinesBuyNoHashes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	client := enhancev1.NewAccountServiceClient(s.grpc)
	ctx := context.Background()
	before, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	for i := range 8 {
		short, cancel := context.WithTimeout(ctx, 40*time.Millisecond)
		_, err := client.CreateAccount(short, &enhancev1.CreateAccountRequest{Email: fmt.Sprintf("hurried%d@example.com", i), Password: testPassword})
		cancel()
		require.Contains(t, []codes.Code{codes.ResourceExhausted, codes.DeadlineExceeded}, status.Code(err), "%d: %v", i, err)
	}
	after, err := s.app.Store().AccountCount(ctx)
	require.NoError(t, err)
	require.Equal(t, before, after, "no registration was worked on past its time")
	a := s.send(http.MethodPost, "/v1/accounts", "application/json",
		jsonBody(t, map[string]any{"email": "patient@example.com", "password": testPassword}), nil)
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
}
