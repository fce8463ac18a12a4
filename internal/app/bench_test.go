package app

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkRESTEnhance is the whole request path for a 768×512 JPEG:
// HTTPS, the gateway, the gRPC hop through every interceptor, decode, the
// general pipeline and encode.
func BenchmarkRESTEnhance(b *testing.B) {
	s := startServer(b, nil)
	s.setDevPlan(b, "business") // 3000 requests a minute
	s.grantDev(b, 1_000_000)
	img := testImage(b, "kodim23.jpg")
	headers := map[string]string{"x-api-key": s.key}
	b.ReportAllocs()
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		resp := s.post(b, "/v1/enhance", "image/jpeg", img, headers)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
