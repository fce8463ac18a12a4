package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func newGateway(t *testing.T, ready func(context.Context) error) *Gateway {
	t.Helper()
	// The connection is never used by these tests: grpc.NewClient dials lazily.
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	g, err := New(context.Background(), Config{Conn: conn, MaxImageBytes: 1 << 20, Ready: ready, OpenAPI: []byte(`{}`)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	return g
}

func TestPanicInFrontHandlerIsJSON500(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(context.Context) error { panic("boom") })
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusInternalServerError, w.Code)
	var p Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
	require.Equal(t, "INTERNAL", p.Code)
	require.Contains(t, p.Detail, "internal error (request id "+p.RequestID+")")
	require.NotContains(t, w.Body.String(), "boom")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(context.Context) error { return errors.New("database down") })
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotContains(t, w.Body.String(), "database down", "causes stay in the log")
}

func TestHTTPStatusTable(t *testing.T) {
	t.Parallel()
	withReason := func(c codes.Code, reason string) *status.Status {
		st, err := status.New(c, "x").WithDetails(&errdetails.ErrorInfo{Reason: reason})
		require.NoError(t, err)
		return st
	}
	for _, tt := range []struct {
		st   *status.Status
		want int
	}{
		{status.New(codes.InvalidArgument, ""), 400},
		{status.New(codes.FailedPrecondition, ""), 422},
		{status.New(codes.Unauthenticated, ""), 401},
		{status.New(codes.PermissionDenied, ""), 403},
		{status.New(codes.NotFound, ""), 404},
		{status.New(codes.AlreadyExists, ""), 409},
		{withReason(codes.ResourceExhausted, "CREDITS_EXHAUSTED"), 402},
		{withReason(codes.ResourceExhausted, "RATE_LIMITED"), 429},
		{status.New(codes.Unimplemented, ""), 501},
		{status.New(codes.Unavailable, ""), 503},
		{status.New(codes.DeadlineExceeded, ""), 504},
		{status.New(codes.Internal, ""), 500},
		{status.New(codes.Unknown, ""), 500},
	} {
		require.Equal(t, tt.want, httpStatus(tt.st), tt.st.Code().String())
	}
}
