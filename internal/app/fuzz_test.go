package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http/httpguts"

	"github.com/smartimage/enhance/internal/config"
)

// FuzzRESTRequest sends whatever the fuzzer makes of a request (route,
// query, content type, body) through the real TLS gateway and gRPC chain.
// Whatever it is, the answer is never a 5xx, and a refusal is a JSON
// problem with a detail.
func FuzzRESTRequest(f *testing.F) {
	// Small limits keep each input quick even under the fuzzer's
	// instrumentation; a deadline that passes is a 504, not a hang.
	s := startServer(f, func(c *config.Config) {
		c.MaxSourcePixels = 300_000
		c.MaxOutputPixels = 1_000_000
		c.RequestTimeout = 5 * time.Second
	})
	s.setDevPlan(f, "enterprise") // the fuzzer sends more than a free plan allows
	png := testImage(f, "bird.png")
	small := png[:2048]
	jsonBody := func(v any) []byte { b, _ := json.Marshal(v); return b }
	f.Add(uint8(0), "", "image/png", small)
	f.Add(uint8(1), "scaleFactor=2&outputFormat=jpeg", "image/png", small)
	f.Add(uint8(2), "", "image/jpeg", testImage(f, "kodim23.jpg")[:4096])
	f.Add(uint8(0), "", "application/json", jsonBody(map[string]any{"imageBase64": base64.StdEncoding.EncodeToString(small), "enhancementType": "portrait"}))
	f.Add(uint8(1), "", "application/json", []byte(`{"imageUrl":"http://127.0.0.1:1/x.png","scaleFactor":3,"dryRun":true}`))
	f.Add(uint8(2), "", "application/json", []byte(`{"imageBase64":"AAAA","hints":[{"color":"#ff0000","points":[{"x":1,"y":2}],"widthPixels":3}]}`))
	f.Add(uint8(3), "", "application/json", []byte(`{"name":"k","scopes":["images:write"]}`))
	f.Add(uint8(4), "pageSize=2", "", []byte(nil))
	// The other body kinds, and requests that do not fit their method.
	form, formBody := multipartSeed(f, small)
	f.Add(uint8(0), "quality=80", form, formBody)
	f.Add(uint8(1), "scaleFactor=2", "application/octet-stream", small)
	f.Add(uint8(0), "", "", small)
	f.Add(uint8(0), "", "application/x-www-form-urlencoded", []byte(`{"imageUrl":"http://127.0.0.1:1/x.png","dryRun":true}`))
	f.Add(uint8(0), "", "text/html", []byte("<html></html>"))
	f.Add(uint8(2), "", "application/json", []byte(`{"imageBase64":"AAAA","hints":[{"colour":"#ff0000","points":{"x":1}}],}`))
	f.Add(uint8(1), "", "application/json", []byte(`{"image_url":"x","scaleFactor":"two","dryRun":"true"}`))
	f.Add(uint8(6), "", "application/json", []byte(`{"gracePeriod":"8d"}`))
	f.Add(uint8(3), "", "application/json", []byte(`{"displayName":"k","expireTime":"tomorrow","scopes":"usage:read"}`))
	f.Add(uint8(4), "pageSize=ten&page_size=1", "", []byte(nil))
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/enhance"}, {http.MethodPost, "/v1/upscale"}, {http.MethodPost, "/v1/colorize"},
		{http.MethodPost, "/v1/keys"}, {http.MethodGet, "/v1/usage"}, {http.MethodPost, "/v1/sessions"},
		{http.MethodPost, "/v1/keys/somekey:rotate"},
	}
	f.Fuzz(func(t *testing.T, route uint8, query, contentType string, body []byte) {
		r := routes[int(route)%len(routes)]
		req, err := http.NewRequest(r.method, s.base+r.path, bytes.NewReader(body))
		require.NoError(t, err)
		req.URL.RawQuery = query
		// A control character in the path or a broken header is refused
		// by the HTTP layers themselves (HTTP/2 answers GOAWAY), before any
		// of our code; the fuzzer's first crasher was one of those.
		if !httpguts.ValidHeaderFieldValue(contentType) || strings.ContainsFunc(query, func(c rune) bool { return c <= ' ' || c >= 0x7f || c == '#' }) {
			return
		}
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		req.Header.Set("x-api-key", s.key)
		resp, err := s.http.Do(req)
		require.NoError(t, err, "every request gets an answer")
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		if resp.StatusCode == http.StatusGatewayTimeout {
			// Legitimate work that outlived the (small) deadline.
			require.Contains(t, string(raw), "DEADLINE_EXCEEDED")
			return
		}
		require.Less(t, resp.StatusCode, 500, "%s %s?%s %q: %s", r.method, r.path, query, contentType, raw)
		if resp.StatusCode >= 400 {
			var p problem
			require.NoError(t, json.Unmarshal(raw, &p), "%s", raw)
			require.NotEmpty(t, p.Detail, "%s", raw)
			require.Equal(t, resp.StatusCode, p.Status)
		}
	})
}
