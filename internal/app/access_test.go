package app

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/requestid"
)

// accessLines are the access lines of request id in the server's log.
func (s *testServer) accessLines(id string) []string {
	var lines []string
	for l := range strings.Lines(s.logs.String()) {
		if strings.Contains(l, "msg=access") && strings.Contains(l, "request_id="+id+" ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestRESTAccessLines: every REST call gets exactly one access line with
// the request id returned to the client: written by the gateway for the
// calls it refuses before the gRPC server sees them (a body that does not
// parse, an unknown route, a wrong method, a body too large) and for what
// it serves itself, by the gRPC server for the rest, refusals included. A
// well-formed client X-Request-Id is kept and a malformed one replaced.
func TestRESTAccessLines(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.MaxBodyBytes = 64 << 10 })
	key := s.key
	png := testImage(t, "bird.png") // 120 KB: over the limit as a body
	tiny := halfJPEG(t, "kodim23.jpg")
	for _, tt := range []struct {
		name, method, path, contentType string
		body                            []byte
		headers                         map[string]string
		status                          int
		// gateway: the gateway writes the line (kind=http), else the
		// gRPC server (kind=unary).
		gateway bool
		want    []string
	}{
		{"JSON that does not parse", http.MethodPost, "/v1/enhance", "application/json", []byte(`{"imageUrl": `),
			map[string]string{"x-api-key": key}, http.StatusBadRequest, true, []string{"status=400", "code=", "path=/v1/enhance", "request_bytes=13"}},
		{"unknown route", http.MethodGet, "/v1/nowhere", "", nil, nil, http.StatusNotFound, true, []string{"status=404", "code=NOT_FOUND", "method=GET", "path=/v1/nowhere"}},
		{"wrong method", http.MethodDelete, "/v1/enhance", "", nil, nil, http.StatusMethodNotAllowed, true, []string{"status=405", "code=METHOD_NOT_ALLOWED"}},
		{"body too large", http.MethodPost, "/v1/enhance", "image/png", png,
			map[string]string{"x-api-key": key}, http.StatusRequestEntityTooLarge, true, []string{"status=413", "code=BODY_TOO_LARGE"}},
		{"served by the gateway", http.MethodGet, "/openapi.json", "", nil, nil, http.StatusOK, true, []string{"status=200", "level=INFO"}},
		{"refused by the gRPC server", http.MethodPost, "/v1/enhance", "image/jpeg", tiny,
			map[string]string{"x-api-key": "not-a-key"}, http.StatusUnauthorized, false, []string{"code=Unauthenticated", "method=ImageService/Enhance"}},
		{"served by the gRPC server", http.MethodPost, "/v1/enhance", "image/jpeg", tiny,
			map[string]string{"x-api-key": key}, http.StatusOK, false, []string{"code=OK", "credits=1", "key_id=", "account_id="}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, clientID := range []string{"rest-" + strings.ReplaceAll(tt.name, " ", "-"), "not a valid id!"} {
				h := map[string]string{"X-Request-Id": clientID}
				for k, v := range tt.headers {
					h[k] = v
				}
				a := s.send(tt.method, tt.path, tt.contentType, tt.body, h)
				require.NoError(t, a.err)
				require.Equal(t, tt.status, a.status, string(a.body))
				id := a.header.Get("X-Request-Id")
				require.True(t, requestid.Valid(id), id)
				if requestid.Valid(clientID) {
					require.Equal(t, clientID, id, "a well-formed client id is kept")
				} else {
					require.NotEqual(t, clientID, id, "a malformed one is replaced")
				}
				if tt.status >= 400 {
					require.Equal(t, id, a.problem.RequestID, "the error body names the same id")
				}
				lines := s.accessLines(id)
				require.Len(t, lines, 1, "one access line per request: %q", lines)
				line := lines[0]
				if tt.gateway {
					require.Contains(t, line, "kind=http")
				} else {
					require.Contains(t, line, "kind=unary")
				}
				for _, want := range tt.want {
					require.Contains(t, line, want)
				}
				require.Contains(t, line, "duration=")
				require.Contains(t, line, "response_bytes=")
			}
		})
	}
	// Probes that succeed are logged at DEBUG, below the test's level.
	a := s.send(http.MethodGet, "/healthz", "", nil, map[string]string{"X-Request-Id": "probe-1"})
	require.NoError(t, a.err)
	require.Equal(t, http.StatusOK, a.status)
	require.Empty(t, s.accessLines("probe-1"))
	require.NotContains(t, s.logs.String(), key, "the key never reaches the log")
}

// TestGRPCRequestID: on the gRPC door, a well-formed x-request-id in the
// metadata is kept, returned in the response header and written on the
// access line; a malformed one is replaced by a fresh id.
func TestGRPCRequestID(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	images := enhancev1.NewImageServiceClient(s.grpc)
	tiny := halfJPEG(t, "kodim23.jpg")
	for _, clientID := range []string{"grpc-client-7f3a", "bad id; with a space", strings.Repeat("x", 65)} {
		var header metadata.MD
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", s.key, "x-request-id", clientID)
		_, err := images.Enhance(ctx, &enhancev1.EnhanceRequest{Image: tiny}, grpc.Header(&header))
		require.NoError(t, err)
		got := header.Get("x-request-id")
		require.Len(t, got, 1)
		if requestid.Valid(clientID) {
			require.Equal(t, clientID, got[0])
		} else {
			require.NotEqual(t, clientID, got[0])
			require.True(t, requestid.Valid(got[0]), got[0])
		}
		lines := s.accessLines(got[0])
		require.Len(t, lines, 1)
		require.Contains(t, lines[0], "method=ImageService/Enhance")
		require.Contains(t, lines[0], "code=OK")
	}
}
