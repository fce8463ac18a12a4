package app

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/credits"
)

// scrape returns the metrics endpoint's text.
func (s *testServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + s.app.MetricsAddr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// TestServiceMetricsAndAccessLog makes an enhance, a failed enhance that
// is refunded, refused keys and a call out of credits, then finds each in
// the service's metrics with its labels, and the enhance's access line
// with the client's request id, its caller and costs, and no key.
func TestServiceMetricsAndAccessLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	key := map[string]string{"x-api-key": s.key}
	png := testImage(t, "bird.png")

	const id = "metrics-test.0001"
	resp := s.post(t, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": s.key, "X-Request-Id": id})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, id, resp.Header.Get("X-Request-Id"), "a well-formed client request id is kept")
	resp.Body.Close()

	resp = s.post(t, "/v1/enhance", "image/png", png[:len(png)/2], key) // charged, then refunded
	require.Equal(t, http.StatusBadRequest/100, resp.StatusCode/100)
	resp.Body.Close()
	for _, k := range []string{"not-a-key", ""} {
		resp = s.post(t, "/v1/enhance", "image/png", png, map[string]string{"x-api-key": k})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp.Body.Close()
	}
	// Spend what is left, then one more enhance is refused for credits.
	acct, err := s.app.Store().AccountByEmail(context.Background(), DevEmail)
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "", credits.OpUpscale, "", s.devBalance(t).Remaining())
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))
	resp = s.post(t, "/v1/enhance", "image/png", png, key)
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	resp.Body.Close()

	// The gRPC door keeps a well-formed request id too.
	var header metadata.MD
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "grpc-id-42")
	_, err = healthpb.NewHealthClient(s.grpc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header))
	require.NoError(t, err)
	require.Equal(t, []string{"grpc-id-42"}, header.Get("x-request-id"))

	// Calls the gateway refuses itself are counted by status and code.
	resp = s.post(t, "/v1/enhance", "application/json", []byte("{"), key)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp.Body.Close()
	text := s.scrape(t)
	for _, want := range []string{
		`enhance_requests_total{code="OK",method="ImageService/Enhance",plan="free"} 1`,
		`enhance_requests_total{code="Unauthenticated",method="ImageService/Enhance",plan="none"} 2`,
		`enhance_requests_total{code="ResourceExhausted",method="ImageService/Enhance",plan="free"} 1`,
		`enhance_requests_total{code="OK",method="Health/Check",plan="none"} 1`,
		`enhance_auth_failures_total{reason="malformed"} 1`,
		`enhance_auth_failures_total{reason="no_key"} 1`,
		`enhance_credits_charged_total{operation="enhance"} 1`,
		`enhance_credits_refunded_total{operation="enhance",reason="failed"} 1`,
		// The refunded enhance failed in decode: no pipeline, no encode.
		`enhance_stage_seconds_count{method="ImageService/Enhance",stage="decode"} 2`,
		`enhance_stage_seconds_count{method="ImageService/Enhance",stage="process"} 1`,
		`enhance_stage_seconds_count{method="ImageService/Enhance",stage="encode"} 1`,
		`enhance_stage_seconds_count{method="ImageService/Enhance",stage="queue"} 2`,
		`enhance_stage_seconds_bucket{method="ImageService/Enhance",stage="process",le="0.001"}`,
		`enhance_source_bytes_count 3`,
		`enhance_source_megapixels_count 3`,
		`enhance_gateway_answers_total{code="MALFORMED_REQUEST",status="400"} 1`,
	} {
		require.Contains(t, text, want)
	}

	var line string
	for l := range strings.Lines(s.logs.String()) {
		if strings.Contains(l, "msg=access") && strings.Contains(l, "request_id="+id) {
			require.Empty(t, line, "one access line per request")
			line = l
		}
	}
	require.NotEmpty(t, line, "the enhance's access line")
	for _, want := range []string{
		"method=ImageService/Enhance", "code=OK", "account_id=" + acct.ID, "key_id=", "plan=free",
		"credits=1", "duration=", "stages.queue=", "stages.decode=", "stages.process=", "stages.encode=", "source_bytes=", "source_pixels=",
		"request_bytes=", "response_bytes=",
	} {
		require.Contains(t, line, want)
	}
	require.NotContains(t, s.logs.String(), s.key, "the key never reaches the log")
}
