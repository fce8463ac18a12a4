package app

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkRESTTracing is a small REST enhance (64×64 PNG) through the
// whole request path with tracing off and on (every span exported over
// OTLP/HTTP to a collector in the test), side by side: what tracing costs
// a request. Run with a fixed count under the business plan's rate limit,
// e.g. -benchtime 400x.
func BenchmarkRESTTracing(b *testing.B) {
	img := tinyPNG(b, 64, 64)
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			env := map[string]string{}
			if on {
				_, endpoint := startReceiver(b, "http/protobuf")
				env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
			}
			for _, k := range otelVariables {
				b.Setenv(k, env[k])
			}
			s := startServer(b, nil)
			if s.app.tracing.Enabled() != on {
				b.Fatalf("tracing on: %v", s.app.tracing.Enabled())
			}
			s.setDevPlan(b, "business")
			s.grantDev(b, 1_000_000)
			headers := map[string]string{"x-api-key": s.key}
			b.ReportAllocs()
			for b.Loop() {
				resp := s.post(b, "/v1/enhance", "image/png", img, headers)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
