package app

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/store"
)

// programmerText is what no REST detail may contain: protobuf-go's and
// encoding/json's own error text, type names and Go package paths.
var programmerText = []string{
	"proto:", "protobuf", "invalid character", "google.protobuf", "github.com/", "google.golang.org/",
	"smartimage.enhance", ".go:", "strconv.", "Request)", "unexpected token",
}

// formPart is one part of a multipart test form; a file when filename is
// set.
type formPart struct{ name, filename, contentType string }

// multipartForm builds a form whose parts hold the given bytes.
func multipartForm(t *testing.T, parts []formPart, bodies ...[]byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf("form-data; name=%q", p.name)
		if p.filename != "" {
			cd += fmt.Sprintf("; filename=%q", p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(bodies[i])
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// TestRESTErrorsInTheUsersWords sends, over the real TLS gateway and gRPC
// chain, every kind of request that does not fit its method, and checks
// that the answer names the field as the API spells it and says what is
// wrong in words a user of the API knows.
func TestRESTErrorsInTheUsersWords(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	key := map[string]string{"x-api-key": s.key}
	token := s.signUpAndIn(t, "words@example.com")
	session := bearer(token)
	png := tinyPNG(t, 16, 16)
	b64 := base64.StdEncoding.EncodeToString(png)
	oneFile, oneFileBody := multipartForm(t, []formPart{{"image", "photo.png", "image/png"}, {"outputFormat", "", ""}}, png, []byte("jpeg"))
	noFile, noFileBody := multipartForm(t, []formPart{{"outputFormat", "", ""}}, []byte("png"))
	twoFiles, twoFilesBody := multipartForm(t, []formPart{{"image", "a.png", "image/png"}, {"mask", "b.png", "image/png"}}, png, png)

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		headers     map[string]string
		status      int
		code        string
		param       string
		detail      []string
	}{
		{name: "unknown field differing by case", path: "/v1/enhance", body: `{"imageBase64": "` + b64 + `", "enhancementtype": "portrait"}`,
			param: "enhancementtype", detail: []string{"did you mean enhancementType?"}},
		{name: "unknown field with a typo", path: "/v1/enhance", body: `{"imageBase64": "` + b64 + `", "outputFromat": "png"}`,
			param: "outputFromat", detail: []string{"did you mean outputFormat?"}},
		{name: "unknown field far from any", path: "/v1/upscale", body: `{"imageBase64": "` + b64 + `", "zoom": 2}`,
			param: "zoom", detail: []string{"this request takes imageUrl, imageBase64, scaleFactor, outputFormat, quality, dryRun"}},
		{name: "unknown nested field", path: "/v1/colorize", body: `{"imageBase64": "` + b64 + `", "hints": [{"points": [{"x": 1, "y": 1}], "colour": "#ff0000"}]}`,
			param: "hints[0].colour", detail: []string{"did you mean hints[0].color?"}},
		{name: "text for a whole number", path: "/v1/upscale", body: `{"imageBase64": "` + b64 + `", "scaleFactor": "two"}`,
			param: "scaleFactor", detail: []string{"scaleFactor must be a whole number, like 2"}},
		{name: "whole number out of range", path: "/v1/enhance", body: `{"imageBase64": "` + b64 + `", "quality": 1e12}`,
			param: "quality", detail: []string{"out of range"}},
		{name: "quoted flag", path: "/v1/enhance", body: `{"imageBase64": "` + b64 + `", "dryRun": "yes"}`,
			param: "dryRun", detail: []string{"dryRun must be true or false"}},
		{name: "number for a string", path: "/v1/enhance", body: `{"imageUrl": 5}`, param: "imageUrl", detail: []string{"imageUrl must be a string"}},
		{name: "wrong type deep in a hint", path: "/v1/colorize", body: `{"imageBase64": "` + b64 + `", "hints": [{"points": [{"x": 1, "y": "top"}], "color": "#ff0000"}]}`,
			param: "hints[0].points[0].y", detail: []string{"hints[0].points[0].y must be a whole number"}},
		{name: "list expected", path: "/v1/colorize", body: `{"imageBase64": "` + b64 + `", "hints": {"color": "#ff0000"}}`,
			param: "hints", detail: []string{"hints must be a list"}},
		{name: "duration in days", path: "/v1/keys/anykey:rotate", body: `{"gracePeriod": "8d"}`, headers: session,
			param: "gracePeriod", detail: []string{`gracePeriod must be a duration in seconds, like "3600s"`}},
		{name: "time in words", path: "/v1/keys", body: `{"displayName": "ci", "scopes": ["usage:read"], "expireTime": "next week"}`, headers: session,
			param: "expireTime", detail: []string{`expireTime must be an RFC 3339 time, like "2027-01-31T00:00:00Z"`}},
		{name: "scopes as one string", path: "/v1/keys", body: `{"displayName": "ci", "scopes": "usage:read"}`, headers: session,
			param: "scopes", detail: []string{`scopes must be a list, like ["images:enhance"]`}},
		{name: "invalid base64", path: "/v1/enhance", body: `{"imageBase64": "%%% not base64 %%%"}`,
			param: "imageBase64", detail: []string{"imageBase64 must be base64 text"}},
		{name: "base64 in a data URL", path: "/v1/enhance", body: `{"imageBase64": "data:image/png;base64,` + b64 + `"}`,
			param: "imageBase64", detail: []string{`only the base64 after the comma`}},
		{name: "same field under both names", path: "/v1/enhance", body: `{"imageUrl": "https://example.com/a.jpg", "image_url": "https://example.com/b.jpg"}`,
			param: "imageUrl", detail: []string{"imageUrl is given twice"}},
		{name: "not JSON at all", path: "/v1/enhance", body: `{"imageUrl": "https://example.com/a.jpg",}`,
			detail: []string{"not valid JSON", "at byte 42", "no comma before a closing }"}},
		{name: "cut short", path: "/v1/sessions", body: `{"email": "words@example.com", "password": "`,
			detail: []string{"not valid JSON", "ends before the JSON is complete"}},
		{name: "multipart sent as JSON", path: "/v1/enhance", contentType: "application/json", body: string(oneFileBody),
			detail: []string{"not valid JSON", "looks like multipart/form-data"}},
		{name: "a list, not an object", path: "/v1/enhance", body: `[{"imageUrl": "https://example.com/a.jpg"}]`,
			detail: []string{"must be a JSON object", "it is a list"}},
		{name: "query options with JSON", path: "/v1/enhance?outputFormat=png", body: `{"imageBase64": "` + b64 + `"}`,
			param: "outputFormat", detail: []string{"outputFormat goes in the JSON body"}},
		{name: "query parameter not a number", method: http.MethodGet, path: "/v1/usage?pageSize=ten",
			param: "pageSize", detail: []string{"query parameter pageSize must be a whole number, like 50"}},
		{name: "query parameter misspelt", method: http.MethodGet, path: "/v1/usage?page_sise=3",
			param: "page_sise", detail: []string{"did you mean pageSize?"}},
		{name: "query parameter on a call without any", method: http.MethodGet, path: "/v1/pricing?plan=free",
			param: "plan", detail: []string{"GET /v1/pricing takes no query parameters"}},
		{name: "upload option misspelt", path: "/v1/upscale?scalefactor=2", contentType: "image/png", body: string(png),
			code: "INVALID_OPTION", param: "scalefactor", detail: []string{"did you mean scaleFactor?"}},

		{name: "HTML", path: "/v1/enhance", contentType: "text/html", body: "<html>", status: 415, code: "UNSUPPORTED_MEDIA_TYPE",
			detail: []string{"send JSON, or image/jpeg, image/png or image/webp", "multipart/form-data"}},
		{name: "XML", path: "/v1/colorize", contentType: "application/xml", body: "<image/>", status: 415, code: "UNSUPPORTED_MEDIA_TYPE",
			detail: []string{"application/xml bodies are not accepted", "send JSON, or image/jpeg, image/png or image/webp"}},
		{name: "form data", path: "/v1/enhance", contentType: "application/x-www-form-urlencoded", body: "imageUrl=https%3A%2F%2Fexample.com%2Fa.jpg",
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", detail: []string{"send a JSON object with Content-Type: application/json"}},
		{name: "octet-stream that is no image", path: "/v1/enhance", contentType: "application/octet-stream", body: "GIF89a\x01\x00\x01\x00",
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", detail: []string{"not a JPEG, PNG or WebP image (it looks like image/gif)"}},
		{name: "multipart without a file", path: "/v1/enhance", contentType: noFile, body: string(noFileBody),
			code: "INVALID_REQUEST", detail: []string{"the form has no file", "curl -F image=@photo.jpg"}},
		{name: "multipart with two files", path: "/v1/enhance", contentType: twoFiles, body: string(twoFilesBody),
			code: "INVALID_REQUEST", param: "mask", detail: []string{"more than one file"}},
		{name: "multipart option in the query and the form", path: "/v1/enhance?outputFormat=png", contentType: oneFile, body: string(oneFileBody),
			code: "INVALID_OPTION", param: "outputFormat", detail: []string{"given both in the query string and as a form field"}},
		{name: "multipart to a JSON-only call", path: "/v1/keys", contentType: oneFile, body: string(oneFileBody), headers: session,
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", detail: []string{"send JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, ct, status, code, headers := tt.method, tt.contentType, tt.status, tt.code, tt.headers
			if method == "" {
				method = http.MethodPost
			}
			if ct == "" && method == http.MethodPost {
				ct = "application/json"
			}
			if status == 0 {
				status = http.StatusBadRequest
			}
			if code == "" {
				code = "MALFORMED_REQUEST"
			}
			if headers == nil {
				headers = key
			}
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			a := s.send(method, tt.path, ct, body, headers)
			require.NoError(t, a.err)
			require.Equal(t, status, a.status, "%s", a.body)
			var p struct {
				Status                         int
				Detail, Code, Param, RequestID string
			}
			require.NoError(t, json.Unmarshal(a.body, &p))
			require.Equal(t, "application/json", a.header.Get("Content-Type"))
			require.Equal(t, code, p.Code, p.Detail)
			require.Equal(t, status, p.Status)
			require.Equal(t, tt.param, p.Param, p.Detail)
			require.Equal(t, a.header.Get("X-Request-Id"), p.RequestID)
			for _, d := range tt.detail {
				require.Contains(t, p.Detail, d)
			}
			for _, bad := range programmerText {
				require.NotContains(t, p.Detail, bad, "a detail in the user's words")
			}
			require.Contains(t, s.logs.String(), "request_id="+p.RequestID, "every refusal is logged")
		})
	}
	require.Zero(t, s.devBalance(t).Used, "no refusal is charged")
}

// TestRESTEveryBodyKind sends the same small image each way the image
// calls take one, and checks that each works, applies its options and is
// charged like a raw upload.
func TestRESTEveryBodyKind(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	key := map[string]string{"x-api-key": s.key}
	png := tinyPNG(t, 32, 24)
	b64 := base64.StdEncoding.EncodeToString(png)
	file, fileBody := multipartForm(t, []formPart{{"image", "photo.png", "image/png"}, {"scaleFactor", "", ""}, {"outputFormat", "", ""}},
		png, []byte("3"), []byte("jpeg"))
	untyped, untypedBody := multipartForm(t, []formPart{{"image_file", "photo.png", "application/octet-stream"}}, png)
	nameless, namelessBody := multipartForm(t, []formPart{{"image", "", ""}}, png)

	tests := []struct {
		name, path, contentType string
		body                    []byte
		wantType                string
		wantWidth               string
	}{
		{"raw PNG", "/v1/enhance", "image/png", png, "image/png", "32"},
		{"octet-stream, sniffed", "/v1/enhance?outputFormat=jpeg", "application/octet-stream", png, "image/jpeg", "32"},
		{"octet-stream upscale", "/v1/upscale?scaleFactor=2", "application/octet-stream", png, "image/png", "64"},
		{"unlabelled, as curl --data-binary sends it", "/v1/enhance", "application/x-www-form-urlencoded", png, "image/png", "32"},
		{"multipart, options from the form", "/v1/upscale", file, fileBody, "image/jpeg", "96"},
		{"multipart, options from the query", "/v1/enhance?outputFormat=webp&quality=80", untyped, untypedBody, "image/webp", "32"},
		{"multipart, curl -F 'image=<photo.png'", "/v1/enhance", nameless, namelessBody, "image/png", "32"},
		{"JSON without a Content-Type", "/v1/enhance", "", []byte(`{"imageBase64": "` + b64 + `"}`), "image/png", "32"},
		{"JSON as curl -d sends it", "/v1/enhance", "application/x-www-form-urlencoded", []byte(`{"imageBase64": "` + b64 + `", "outputFormat": "jpeg"}`), "image/jpeg", "32"},
		{"JSON with proto field names", "/v1/upscale", "application/json", []byte(`{"image": "` + b64 + `", "scale_factor": "2", "output_format": "png"}`), "image/png", "64"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.send(http.MethodPost, tt.path, tt.contentType, tt.body, key)
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status, "%s", a.body)
			require.Equal(t, tt.wantType, a.header.Get("Content-Type"))
			require.Equal(t, tt.wantWidth, a.header.Get("X-Image-Width"))
			require.Equal(t, "1", a.header.Get("X-Credits-Charged"))
			require.Equal(t, fmt.Sprint(50-i-1), a.header.Get("X-Credits-Remaining"))
		})
	}
	require.Equal(t, store.Balance{Granted: 50, Used: len(tests)}, s.devBalance(t))
}

// multipartSeed is a form with one image file and one option, for the fuzz
// corpus.
func multipartSeed(t testing.TB, image []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("image", "photo.png")
	require.NoError(t, err)
	_, err = w.Write(image)
	require.NoError(t, err)
	require.NoError(t, mw.WriteField("outputFormat", "jpeg"))
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}
