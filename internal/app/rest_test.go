package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/gen2brain/webp"
	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/fetch"
)

func TestRESTEnhanceFromEverySource(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// Photos at half size: this test is about sources and formats, and
	// the race detector makes every pixel expensive.
	jpegData := halfJPEG(t, "kodim23.jpg")
	img := originOf(t, map[string][]byte{
		"/kodim23.jpg": jpegData, "/kodim05.jpg": halfJPEG(t, "kodim05.jpg"), "/bird.png": testImage(t, "bird.png"),
	})

	// A WebP source, made by the service itself from the JPEG.
	resp := s.post(t, "/v1/enhance?outputFormat=webp", "image/jpeg", jpegData, map[string]string{"x-api-key": s.key})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	webpData, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()

	tests := []struct {
		name       string
		send       func() *http.Response
		wantType   string
		wantFormat string
		wantW      int
	}{
		{"documented request: imageUrl to png", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/kodim23.jpg", "enhancementType": "general", "outputFormat": "png"}, s.key)
		}, "image/png", "png", 384},
		{"imageBase64, default format is the source's", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageBase64": base64.StdEncoding.EncodeToString(jpegData)}, s.key)
		}, "image/jpeg", "jpeg", 384},
		{"raw png body to jpeg with quality", func() *http.Response {
			return s.post(t, "/v1/enhance?outputFormat=jpeg&quality=70", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": s.key})
		}, "image/jpeg", "jpeg", 288},
		{"raw webp body", func() *http.Response {
			return s.post(t, "/v1/enhance?enhancementType=general", "image/webp", webpData, map[string]string{"x-api-key": s.key})
		}, "image/webp", "webp", 384},
		{"portrait at half strength", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/kodim05.jpg", "enhancementType": "portrait", "strength": 0.5, "outputFormat": "jpeg"}, s.key)
		}, "image/jpeg", "jpeg", 384},
		{"landscape raw upload", func() *http.Response {
			return s.post(t, "/v1/enhance?enhancementType=landscape&strength=0.8", "image/jpeg", jpegData, map[string]string{"x-api-key": s.key})
		}, "image/jpeg", "jpeg", 384},
		{"upscale ×2 from imageUrl", func() *http.Response {
			return s.postJSON(t, "/v1/upscale", map[string]any{"imageUrl": img.URL + "/bird.png", "scaleFactor": 2}, s.key)
		}, "image/png", "png", 576},
		{"upscale ×3 raw body to jpeg", func() *http.Response {
			return s.post(t, "/v1/upscale?scaleFactor=3&outputFormat=jpeg", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": s.key})
		}, "image/jpeg", "jpeg", 864},
		{"colorize from a stroke", func() *http.Response {
			return s.postJSON(t, "/v1/colorize", map[string]any{"imageUrl": img.URL + "/bird.png",
				"hints": []map[string]any{{"points": []map[string]int{{"x": 10, "y": 10}, {"x": 100, "y": 40}}, "color": "#3366cc", "widthPixels": 3}}}, s.key)
		}, "image/png", "png", 288},
		{"colorize from a reference URL on a raw upload", func() *http.Response {
			return s.post(t, "/v1/colorize?referenceImageUrl="+img.URL+"/kodim23.jpg&outputFormat=jpeg", "image/png", testImage(t, "bird.png"), map[string]string{"x-api-key": s.key})
		}, "image/jpeg", "jpeg", 288},
		{"imageUrl to webp", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "outputFormat": "webp"}, s.key)
		}, "image/webp", "webp", 288},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.send()
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			require.Equal(t, tt.wantType, resp.Header.Get("Content-Type"))
			require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
			require.NotEmpty(t, resp.Header.Get("X-Enhancement-Steps"))
			cfg, format, err := image.DecodeConfig(bytes.NewReader(body))
			require.NoError(t, err)
			require.Equal(t, tt.wantFormat, format)
			require.Equal(t, tt.wantW, cfg.Width)
			require.Equal(t, resp.Header.Get("X-Image-Width"), itoa(cfg.Width))
			require.Equal(t, resp.Header.Get("X-Image-Height"), itoa(cfg.Height))
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) {
		c.MaxBodyBytes = 300 << 10
		c.MaxSourcePixels = 300_000
		c.MaxOutputPixels = 1_000_000
	})
	img := origin(t)
	key := map[string]string{"x-api-key": s.key}
	png := testImage(t, "bird.png")
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")

	tests := []struct {
		name   string
		send   func() *http.Response
		status int
		code   string
		detail string
	}{
		{"no key", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png"}, "")
		}, 401, "UNAUTHENTICATED", "invalid or missing API key"},
		{"malformed key", func() *http.Response { return s.postJSON(t, "/v1/enhance", map[string]any{}, "sie_nope") }, 401, "UNAUTHENTICATED", "invalid or missing API key"},
		{"key with a typo", func() *http.Response {
			typo := s.key[:10] + string(s.key[10]^1) + s.key[11:]
			return s.postJSON(t, "/v1/enhance", map[string]any{}, typo)
		}, 401, "UNAUTHENTICATED", "invalid or missing API key"},
		{"key smuggled as Grpc-Metadata", func() *http.Response {
			return s.post(t, "/v1/enhance", "application/json", []byte(`{}`), map[string]string{"Grpc-Metadata-X-Api-Key": s.key})
		}, 401, "UNAUTHENTICATED", "invalid or missing API key"},
		{"unknown route", func() *http.Response { return s.post(t, "/v1/sharpen", "application/json", []byte(`{}`), key) }, 404, "NOT_FOUND", "no such route"},
		{"malformed JSON", func() *http.Response {
			return s.post(t, "/v1/enhance", "application/json", []byte(`{"imageUrl":`), key)
		}, 400, "MALFORMED_REQUEST", "could not be parsed"},
		{"unknown field", func() *http.Response {
			return s.post(t, "/v1/enhance", "application/json", []byte(`{"imageUrl":"x","enhancement_kind":"general"}`), key)
		}, 400, "MALFORMED_REQUEST", "enhancement_kind"},
		{"wrong type", func() *http.Response {
			return s.post(t, "/v1/enhance", "application/json", []byte(`{"quality":"high"}`), key)
		}, 400, "MALFORMED_REQUEST", "quality"},
		{"no source", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"outputFormat": "png"}, s.key)
		}, 400, "INVALID_REQUEST", "an image is required"},
		{"two sources", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "imageBase64": base64.StdEncoding.EncodeToString(png)}, s.key)
		}, 400, "INVALID_REQUEST", "not both"},
		{"bad output format", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "outputFormat": "gif"}, s.key)
		}, 400, "INVALID_OPTION", "outputFormat"},
		{"bad quality", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "quality": 101}, s.key)
		}, 400, "INVALID_OPTION", "quality"},
		{"unknown enhancement type", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "enhancementType": "sepia"}, s.key)
		}, 400, "INVALID_OPTION", "enhancementType"},
		{"unsupported image", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageBase64": base64.StdEncoding.EncodeToString(gif)}, s.key)
		}, 400, "UNSUPPORTED_IMAGE", "not a JPEG, PNG or WebP"},
		{"truncated image", func() *http.Response { return s.post(t, "/v1/enhance", "image/png", png[:len(png)/3], key) }, 400, "INVALID_IMAGE", "corrupt or truncated"},
		{"too many pixels", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/kodim05.jpg"}, s.key)
		}, 400, "IMAGE_TOO_LARGE", "the limit is 0.3 megapixels"},
		{"raw body over the byte limit", func() *http.Response {
			return s.post(t, "/v1/enhance", "image/png", bytes.Repeat([]byte{0}, 400<<10), key)
		}, 413, "BODY_TOO_LARGE", "larger than"},
		{"JSON body over the byte limit", func() *http.Response {
			return s.post(t, "/v1/enhance", "application/json", bytes.Repeat([]byte{' '}, 500<<10), key)
		}, 413, "BODY_TOO_LARGE", "larger than"},
		{"unknown query parameter on raw upload", func() *http.Response { return s.post(t, "/v1/enhance?strenght=1", "image/png", png, key) }, 400, "INVALID_OPTION", "strenght"},
		{"repeated query parameter on raw upload", func() *http.Response {
			return s.post(t, "/v1/enhance?outputFormat=png&outputFormat=webp", "image/png", png, key)
		}, 400, "INVALID_OPTION", "outputFormat is given 2 times"},
		{"non-integer query parameter", func() *http.Response { return s.post(t, "/v1/enhance?quality=best", "image/png", png, key) }, 400, "INVALID_OPTION", "quality"},
		{"unreachable source", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/missing.jpg"}, s.key)
		}, 422, "SOURCE_UNREACHABLE", "could not be fetched"},
		{"source scheme refused", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": "file:///etc/passwd"}, s.key)
		}, 400, "SOURCE_REFUSED", "not allowed"},
		{"strength out of range", func() *http.Response {
			return s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png", "strength": 1.5}, s.key)
		}, 400, "INVALID_OPTION", "strength 1.5 is outside 0..1"},
		{"strength not a number on raw upload", func() *http.Response { return s.post(t, "/v1/enhance?strength=lots", "image/png", png, key) }, 400, "INVALID_OPTION", "strength"},
		{"upscale by five", func() *http.Response {
			return s.postJSON(t, "/v1/upscale", map[string]any{"imageUrl": img.URL + "/bird.png", "scaleFactor": 5}, s.key)
		}, 400, "INVALID_OPTION", "scaleFactor must be 2, 3 or 4"},
		{"upscale past the output limit", func() *http.Response {
			return s.postJSON(t, "/v1/upscale", map[string]any{"imageUrl": img.URL + "/bird.png", "scaleFactor": 4}, s.key)
		}, 400, "IMAGE_TOO_LARGE", "1152x1152"},
		{"upscale in an unknown mode", func() *http.Response { return s.post(t, "/v1/upscale?mode=neural", "image/png", png, key) }, 400, "INVALID_OPTION", `mode "neural" is not one of learned, classical`},
		{"colorize with a bad colour", func() *http.Response {
			return s.postJSON(t, "/v1/colorize", map[string]any{"imageUrl": img.URL + "/bird.png", "hints": []map[string]any{{"points": []map[string]int{{"x": 1, "y": 1}}, "color": "red"}}}, s.key)
		}, 400, "INVALID_OPTION", "not #rrggbb"},
		{"colorize with a hint off the image", func() *http.Response {
			return s.postJSON(t, "/v1/colorize", map[string]any{"imageUrl": img.URL + "/bird.png", "hints": []map[string]any{{"points": []map[string]int{{"x": 1000, "y": 1}}, "color": "#ff0000"}}}, s.key)
		}, 400, "INVALID_OPTION", "outside the 288x288 image"},
		{"raw image to a JSON-only route", func() *http.Response { return s.post(t, "/v1/accounts", "image/png", png, nil) }, 415, "UNSUPPORTED_MEDIA_TYPE", "image body"},
		{"registration with a bad email", func() *http.Response {
			return s.postJSON(t, "/v1/accounts", map[string]any{"email": "nope", "password": "long enough password"}, "")
		}, 400, "INVALID_REGISTRATION", "not an email address"},
		{"registration with a short password", func() *http.Response {
			return s.postJSON(t, "/v1/accounts", map[string]any{"email": "x@example.com", "password": "short"}, "")
		}, 400, "INVALID_REGISTRATION", "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tt.send()
			require.Equal(t, tt.status, resp.StatusCode)
			p := readProblem(t, resp)
			require.Equal(t, tt.code, p.Code)
			require.Contains(t, p.Detail, tt.detail)
			require.Contains(t, s.logs.String(), "request_id="+p.RequestID, "every refusal is logged with its request id")
			require.Contains(t, s.logs.String(), "code="+p.Code)
		})
	}

	t.Run("every 401 has the same body", func(t *testing.T) {
		var details []string
		last := "x"
		if strings.HasSuffix(s.key, last) { // a typo must change the key
			last = "y"
		}
		for _, k := range []string{"", "garbage", s.key[:len(s.key)-1] + last} {
			p := readProblem(t, s.postJSON(t, "/v1/enhance", map[string]any{}, k))
			details = append(details, p.Detail+"|"+p.Code+"|"+p.Title)
		}
		require.Equal(t, details[0], details[1])
		require.Equal(t, details[0], details[2])
	})

	t.Run("wrong method", func(t *testing.T) {
		resp, err := s.http.Get(s.base + "/v1/enhance")
		require.NoError(t, err)
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		require.Equal(t, "METHOD_NOT_ALLOWED", readProblem(t, resp).Code)
	})

	t.Run("plain HTTP is refused", func(t *testing.T) {
		resp, err := http.Post("http://"+s.app.HTTPAddr()+"/v1/enhance", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(body), "HTTPS")
	})
}

func TestRESTPrivateSourcesRefusedByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.FetchAllowPrivate = false })
	var hits atomic.Int32
	canary := origin(t)
	canary.Config.Handler = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	for _, u := range []string{canary.URL + "/bird.png?token=origin-secret", "http://localhost/x.png", "http://169.254.169.254/latest", "http://2130706433/"} {
		resp := s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": u}, s.key)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, u)
		p := readProblem(t, resp)
		require.Equal(t, "SOURCE_REFUSED", p.Code)
		require.Equal(t, fetch.ErrRefused.Error(), p.Detail, "one generic detail")
		require.Contains(t, s.logs.String(), "request_id="+p.RequestID, "each refusal is logged with its request id")
	}
	require.Zero(t, hits.Load(), "the refused origin heard nothing")
	logs := s.logs.String()
	require.Contains(t, logs, `reason="refused: port `)
	require.Contains(t, logs, `reason="refused: legacy IPv4 form`)
	require.NotContains(t, logs, "origin-secret", "URL queries stay out of the log")
}

func TestRESTAPIKeyQueryFallback(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	img := origin(t)
	body, _ := json.Marshal(map[string]any{"imageUrl": img.URL + "/bird.png"})
	resp, err := s.http.Post(s.base+"/v1/enhance?api_key="+s.key, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Warning"), "x-api-key header")
	require.NotContains(t, s.logs.String(), s.key, "the key never reaches the log")
}

func TestRESTRegisterThenEnhanceWithTheNewKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	img := origin(t)
	resp := s.postJSON(t, "/v1/accounts", map[string]any{"email": "new@example.com", "password": "correct horse battery staple"}, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var created struct {
		Account struct{ Name, Email string }
		APIKey  struct {
			Name, DisplayName, Secret string
			Scopes                    []string
		} `json:"apiKey"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, "new@example.com", created.Account.Email)
	require.Equal(t, "default", created.APIKey.DisplayName)
	require.ElementsMatch(t, []string{"images:enhance", "images:upscale", "images:colorize", "usage:read"}, created.APIKey.Scopes)
	require.True(t, strings.HasPrefix(created.APIKey.Secret, "sie_"))

	resp = s.postJSON(t, "/v1/enhance", map[string]any{"imageUrl": img.URL + "/bird.png"}, created.APIKey.Secret)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()

	resp = s.postJSON(t, "/v1/accounts", map[string]any{"email": "NEW@example.com", "password": "another long password"}, "")
	require.Equal(t, http.StatusConflict, resp.StatusCode)
	require.Equal(t, "EMAIL_TAKEN", readProblem(t, resp).Code)

	// Neither the secret nor the password is stored or logged.
	s.stop(t)
	dbBytes := readDataDir(t, s.cfg.DataDir)
	require.NotContains(t, dbBytes, created.APIKey.Secret[21:64])
	require.NotContains(t, dbBytes, "correct horse battery staple")
	require.NotContains(t, s.logs.String(), created.APIKey.Secret[21:64])
}

func TestRESTHealthAndOpenAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/openapi.json": `"/v1/enhance"`} {
		resp, err := s.http.Get(s.base + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, string(body), want, path)
	}
}
