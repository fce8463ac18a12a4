package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzRESTRequest sends whatever the fuzzer makes of a request (route,
// query, content type, body) through the real TLS gateway and gRPC chain.
// Whatever it is, the answer is never a 5xx, and a refusal is a JSON
// problem with a detail.
func FuzzRESTRequest(f *testing.F) {
	s := startServer(f, nil)
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
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/enhance"}, {http.MethodPost, "/v1/upscale"}, {http.MethodPost, "/v1/colorize"},
		{http.MethodPost, "/v1/keys"}, {http.MethodGet, "/v1/usage"}, {http.MethodPost, "/v1/sessions"},
	}
	f.Fuzz(func(t *testing.T, route uint8, query, contentType string, body []byte) {
		r := routes[int(route)%len(routes)]
		req, err := http.NewRequest(r.method, s.base+r.path, bytes.NewReader(body))
		require.NoError(t, err)
		req.URL.RawQuery = query
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		req.Header.Set("x-api-key", s.key)
		resp, err := s.http.Do(req)
		if err != nil {
			return // the client refused to send it (a malformed header, say)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Less(t, resp.StatusCode, 500, "%s %s?%s %q: %s", r.method, r.path, query, contentType, raw)
		if resp.StatusCode >= 400 {
			var p problem
			require.NoError(t, json.Unmarshal(raw, &p), "%s", raw)
			require.NotEmpty(t, p.Detail, "%s", raw)
			require.Equal(t, resp.StatusCode, p.Status)
		}
	})
}
