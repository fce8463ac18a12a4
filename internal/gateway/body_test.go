package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// part is one part of a test form: a file when filename is set.
type part struct{ name, filename, contentType, body string }

func form(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write([]byte(p.body))
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return mw.FormDataContentType(), buf.Bytes()
}

// TestBodyKinds sends each body kind through the front handler. The
// gateway's connection leads nowhere, so a request the front handler
// accepts and sends on is answered 503 UNAVAILABLE; every refusal comes
// before that, from the front handler itself.
func TestBodyKinds(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(context.Context) error { return nil })
	const png = "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"
	const jpeg = "\xff\xd8\xff\xe0\x00\x10JFIF"
	const webp = "RIFF\x10\x00\x00\x00WEBPVP8 "
	formOne, bodyOne := form(t, part{"image", "photo.jpg", "image/jpeg", jpeg}, part{"outputFormat", "", "", "png"})
	formUntyped, bodyUntyped := form(t, part{"file", "photo.png", "application/octet-stream", png})
	formNoName, bodyNoName := form(t, part{"image", "", "", webp})
	formNone, bodyNone := form(t, part{"outputFormat", "", "", "png"})
	formTwo, bodyTwo := form(t, part{"image", "a.png", "image/png", png}, part{"other", "b.png", "image/png", png})
	formGIF, bodyGIF := form(t, part{"image", "a.gif", "image/gif", "GIF89a"})
	formText, bodyText := form(t, part{"image", "notes.txt", "text/plain", "hello there"})
	formUnknown, bodyUnknown := form(t, part{"image", "a.png", "image/png", png}, part{"strenght", "", "", "1"})
	formBig, bodyBig := form(t, part{"image", "a.png", "image/png", png + strings.Repeat("x", 1<<20)})
	bigParts := []part{{"image", "a.png", "image/png", png + strings.Repeat("x", 1<<20-len(png))}}
	for i := range 20 {
		bigParts = append(bigParts, part{fmt.Sprintf("f%d", i), "", "", strings.Repeat("a", 4000)})
	}
	formHuge, bodyHuge := form(t, bigParts...)
	formBad, bodyBad := form(t, part{"image", "a.png", "image/png", png}, part{"quality", "", "", "best"})
	formAlias, bodyAlias := form(t, part{"image", "a.png", "image/png", png}, part{"output_format", "", "", "png"})

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string
		param       string
		detail      string
	}{
		// Accepted and sent on.
		{"JSON", "POST", "/v1/enhance", "application/json", `{"imageUrl": "https://example.com/x.jpg"}`, 503, "UNAVAILABLE", "", ""},
		{"JSON with a charset", "POST", "/v1/enhance", "application/json; charset=utf-8", `{}`, 503, "UNAVAILABLE", "", ""},
		{"JSON without a Content-Type", "POST", "/v1/enhance", "", `{"imageUrl": "https://example.com/x.jpg"}`, 503, "UNAVAILABLE", "", ""},
		{"JSON as curl -d sends it", "POST", "/v1/keys", formType, `{"displayName": "ci"}`, 503, "UNAVAILABLE", "", ""},
		{"JSON as text/plain", "POST", "/v1/sessions", "text/plain", `{"email": "a@b.c", "password": "x"}`, 503, "UNAVAILABLE", "", ""},
		{"empty body", "POST", "/v1/keys/abc:rotate", "", "", 503, "UNAVAILABLE", "", ""},
		{"raw image", "POST", "/v1/enhance?outputFormat=png", "image/png", png, 503, "UNAVAILABLE", "", ""},
		{"raw image, option by its proto name", "POST", "/v1/upscale?scale_factor=2", "image/png", png, 503, "UNAVAILABLE", "", ""},
		{"octet-stream PNG", "POST", "/v1/enhance", "application/octet-stream", png, 503, "UNAVAILABLE", "", ""},
		{"octet-stream JPEG", "POST", "/v1/upscale?scaleFactor=2", "application/octet-stream", jpeg, 503, "UNAVAILABLE", "", ""},
		{"octet-stream WebP", "POST", "/v1/colorize", "application/octet-stream", webp, 503, "UNAVAILABLE", "", ""},
		{"unlabelled image (curl --data-binary)", "POST", "/v1/enhance", formType, jpeg, 503, "UNAVAILABLE", "", ""},
		{"image without a Content-Type", "POST", "/v1/enhance", "", png, 503, "UNAVAILABLE", "", ""},
		{"multipart, one file and a field", "POST", "/v1/enhance?quality=80", formOne, string(bodyOne), 503, "UNAVAILABLE", "", ""},
		{"multipart, untyped file", "POST", "/v1/enhance", formUntyped, string(bodyUntyped), 503, "UNAVAILABLE", "", ""},
		{"multipart, image without a file name", "POST", "/v1/enhance", formNoName, string(bodyNoName), 503, "UNAVAILABLE", "", ""},
		{"multipart, option by its proto name", "POST", "/v1/enhance", formAlias, string(bodyAlias), 503, "UNAVAILABLE", "", ""},
		{"GET with a fitting query", "GET", "/v1/usage?pageSize=3", "", "", 503, "UNAVAILABLE", "", ""},

		// Refused by the front handler.
		{"HTML", "POST", "/v1/enhance", "text/html", "<html></html>", 415, "UNSUPPORTED_MEDIA_TYPE", "",
			"send JSON, or image/jpeg, image/png or image/webp (as the body, or as the one file of a multipart/form-data form)"},
		{"XML", "POST", "/v1/upscale", "application/xml", "<x/>", 415, "UNSUPPORTED_MEDIA_TYPE", "", "application/xml bodies are not accepted"},
		{"XML to a JSON-only call", "POST", "/v1/keys", "application/xml", "<x/>", 415, "UNSUPPORTED_MEDIA_TYPE", "", "send JSON, with Content-Type: application/json"},
		{"form data", "POST", "/v1/enhance", formType, "imageUrl=https://example.com/x.jpg", 415, "UNSUPPORTED_MEDIA_TYPE", "",
			"application/x-www-form-urlencoded bodies are not accepted: send a JSON object"},
		{"plain text", "POST", "/v1/keys", "text/plain", "hello", 415, "UNSUPPORTED_MEDIA_TYPE", "", "text/plain bodies are not accepted"},
		{"octet-stream that is no image", "POST", "/v1/enhance", "application/octet-stream", "%PDF-1.4 ...", 415, "UNSUPPORTED_MEDIA_TYPE", "",
			"not a JPEG, PNG or WebP image (it looks like application/pdf): send JSON, or image/jpeg"},
		{"octet-stream that is JSON", "POST", "/v1/enhance", "application/octet-stream", `{"imageUrl": "x"}`, 415, "UNSUPPORTED_MEDIA_TYPE", "",
			"it looks like JSON: send JSON with Content-Type: application/json"},
		{"octet-stream to a JSON-only call", "POST", "/v1/keys", "application/octet-stream", png, 415, "UNSUPPORTED_MEDIA_TYPE", "", "application/octet-stream bodies are not accepted here"},
		{"octet-stream over the limit", "POST", "/v1/enhance", "application/octet-stream", png + strings.Repeat("x", 1<<20), 413, "BODY_TOO_LARGE", "", "the image is larger than 1048576 bytes"},
		{"unlabelled image over the limit", "POST", "/v1/enhance", "", png + strings.Repeat("x", 1<<20), 413, "BODY_TOO_LARGE", "", "the image is larger than 1048576 bytes"},
		{"image to a JSON-only call", "POST", "/v1/accounts", "image/png", png, 415, "UNSUPPORTED_MEDIA_TYPE", "", "an image body is accepted only by"},
		{"GIF", "POST", "/v1/enhance", "image/gif", "GIF89a", 415, "UNSUPPORTED_MEDIA_TYPE", "", "image/gif bodies are not accepted"},
		{"multipart to a JSON-only call", "POST", "/v1/keys", formOne, string(bodyOne), 415, "UNSUPPORTED_MEDIA_TYPE", "", "multipart/form-data bodies are not accepted here"},
		{"multipart without a boundary", "POST", "/v1/enhance", "multipart/form-data", string(bodyOne), 400, "MALFORMED_REQUEST", "", "needs the boundary"},
		{"multipart with the wrong boundary", "POST", "/v1/enhance", "multipart/form-data; boundary=nope", string(bodyOne), 400, "MALFORMED_REQUEST", "", "has no parts"},
		{"multipart cut short", "POST", "/v1/enhance", formOne, string(bodyOne[:len(bodyOne)/2]), 400, "MALFORMED_REQUEST", "", "multipart/form-data body is malformed"},
		{"multipart without a file", "POST", "/v1/enhance", formNone, string(bodyNone), 400, "INVALID_REQUEST", "", "the form has no file: send the image as one file part, like curl -F image=@photo.jpg"},
		{"multipart with two files", "POST", "/v1/enhance", formTwo, string(bodyTwo), 400, "INVALID_REQUEST", "other", `the form has more than one file ("image" and "other")`},
		{"multipart GIF", "POST", "/v1/enhance", formGIF, string(bodyGIF), 415, "UNSUPPORTED_MEDIA_TYPE", "image", "image/gif files are not accepted"},
		{"multipart text file", "POST", "/v1/enhance", formText, string(bodyText), 415, "UNSUPPORTED_MEDIA_TYPE", "image", `the file "image" is not a JPEG, PNG or WebP image`},
		{"multipart unknown field", "POST", "/v1/enhance", formUnknown, string(bodyUnknown), 400, "INVALID_OPTION", "strenght", `unknown form field "strenght": did you mean strength?`},
		{"multipart bad field", "POST", "/v1/enhance", formBad, string(bodyBad), 400, "INVALID_OPTION", "quality", "form field quality must be a whole number, like 90"},
		{"multipart option in query and form", "POST", "/v1/enhance?outputFormat=jpeg", formOne, string(bodyOne), 400, "INVALID_OPTION", "outputFormat",
			"outputFormat is given both in the query string and as a form field"},
		{"multipart image over the limit", "POST", "/v1/enhance", formBig, string(bodyBig), 413, "BODY_TOO_LARGE", "image", "the image is larger than 1048576 bytes"},
		{"multipart body over the limit", "POST", "/v1/enhance", formHuge, string(bodyHuge), 413, "BODY_TOO_LARGE", "", "the request body is larger than 1114112 bytes"},
		{"raw upload, misspelt option", "POST", "/v1/enhance?strenght=1", "image/png", png, 400, "INVALID_OPTION", "strenght", `unknown query parameter "strenght": did you mean strength?`},
		{"raw upload, option under both names", "POST", "/v1/enhance?outputFormat=png&output_format=jpeg", "image/png", png, 400, "INVALID_OPTION", "outputFormat", "outputFormat is given twice"},
		{"raw upload, bad flag", "POST", "/v1/enhance?dryRun=maybe", "image/png", png, 400, "INVALID_OPTION", "dryRun", "query parameter dryRun must be true or false"},
		{"JSON with query options", "POST", "/v1/enhance?outputFormat=png", "application/json", `{"imageUrl": "x"}`, 400, "MALFORMED_REQUEST", "outputFormat",
			"outputFormat goes in the JSON body, not the query string"},
		{"JSON that does not fit", "POST", "/v1/keys/abc:rotate", "application/json", `{"gracePeriod": "8d"}`, 400, "MALFORMED_REQUEST", "gracePeriod",
			`gracePeriod must be a duration in seconds, like "3600s"`},
		{"JSON, unlabelled, that does not parse", "POST", "/v1/enhance", "", `{"imageUrl": `, 400, "MALFORMED_REQUEST", "", "not valid JSON"},
		{"GET with a bad query", "GET", "/v1/usage?pageSize=all", "", "", 400, "MALFORMED_REQUEST", "pageSize", "pageSize must be a whole number"},
		{"bad escape in the query", "GET", "/v1/usage?pageSize=%zz", "", "", 400, "MALFORMED_REQUEST", "", "a % must start an escape like %20"},
		{"semicolons in the query", "POST", "/v1/enhance?quality=80;outputFormat=png", "image/png", png, 400, "MALFORMED_REQUEST", "", "separate parameters with &, not ;"},
		{"image sent as JSON", "POST", "/v1/enhance", "application/json", png, 400, "MALFORMED_REQUEST", "", "the body is a PNG image, not JSON"},
		{"no such route", "POST", "/v1/sharpen", "text/html", "x", 404, "NOT_FOUND", "", "no such route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := refusal(t, g, tt.method, tt.path, tt.contentType, tt.body, nil, tt.status)
			require.Equal(t, tt.code, p.Code, p.Detail)
			require.Equal(t, tt.param, p.Param, p.Detail)
			require.Contains(t, p.Detail, tt.detail)
			requireUserWords(t, p.Detail)
		})
	}
}

// refusal sends one request through the front handler and returns its
// problem body, having checked the status.
func refusal(t *testing.T, g *Gateway, method, path, contentType, body string, headers map[string]string, status int) Problem {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	require.Equal(t, status, w.Code, w.Body.String())
	var p Problem
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), w.Body.String())
	return p
}

// TestNoDoorAroundTheChecks: the ways the review found around the front
// handler's checks, each now met by the same refusal as the plain route.
func TestNoDoorAroundTheChecks(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(context.Context) error { return nil })
	big := `{"imageUrl": "` + strings.Repeat("a", 2<<20) + `"}` // past the JSON limit of a 1 MiB image
	long := `{"imageUrl": "https://example.com/` + strings.Repeat("a", 70<<10) + `"}`
	tests := []struct {
		name, method, path, contentType, body string
		headers                               map[string]string
		status                                int
		code, param, detail                   string
	}{
		{"escaped route name, oversized body", "POST", "/v1/%65nhance", "application/json", big, nil, 413, "BODY_TOO_LARGE", "", "larger than"},
		{"escaped route name, bad media type", "POST", "/v1/keys/abc%3Arotate", "text/csv", "a,b", nil, 415, "UNSUPPORTED_MEDIA_TYPE", "", "send JSON"},
		{"form body to a GET route", "POST", "/v1/usage", "application/x-www-form-urlencoded", "pageSize=5&nonsense=1", nil, 405, "METHOD_NOT_ALLOWED", "", "not allowed"},
		{"method override", "POST", "/v1/account", "application/json", `{"password": "x"}`, map[string]string{"X-HTTP-Method-Override": "DELETE"}, 405, "METHOD_NOT_ALLOWED", "", "not allowed"},
		{"query value not UTF-8", "GET", "/v1/usage?pageToken=%FF", "", "", nil, 400, "MALFORMED_REQUEST", "pageToken", "not valid UTF-8"},
		{"path not UTF-8", "GET", "/v1/keys/%FF", "", "", nil, 400, "MALFORMED_REQUEST", "", "not valid UTF-8"},
		{"upload option not UTF-8", "POST", "/v1/enhance?outputFormat=%C3%28", "image/png", "\x89PNG\r\n\x1a\n", nil, 400, "MALFORMED_REQUEST", "outputFormat", "not valid UTF-8"},
		{"api_key beside a bad escape", "POST", "/v1/enhance?api_key=K&quality=%zz", "image/png", "\x89PNG\r\n\x1a\n", nil, 400, "MALFORMED_REQUEST", "", "a % must start an escape"},
		{"a text field too long to be one", "POST", "/v1/enhance", "application/json", long, nil, 400, "MALFORMED_REQUEST", "imageUrl", "longer than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := refusal(t, g, tt.method, tt.path, tt.contentType, tt.body, tt.headers, tt.status)
			require.Equal(t, tt.code, p.Code, p.Detail)
			require.Equal(t, tt.param, p.Param, p.Detail)
			require.Contains(t, p.Detail, tt.detail)
		})
	}

	// A malformed Idempotency-Key matters only where keys are honoured.
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("Idempotency-Key", "n°1")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

func TestGRPCTimeoutHeader(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"1m": time.Millisecond, "100S": 100 * time.Second, "2H": 2 * time.Hour, "5u": 5 * time.Microsecond} {
		got, ok := grpcTimeout(v)
		require.True(t, ok, v)
		require.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "1", "S", "-1S", "1x", "123456789S"} {
		_, ok := grpcTimeout(v)
		require.False(t, ok, v)
	}
}

// onlyReader hides a reader's other methods (bytes.Reader's WriterTo), as
// a request body does.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReadAtMost(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("0123456789"), 1000)
	tests := []struct {
		name     string
		declared int64
		max      int64
		want     []byte
		err      bool
	}{
		{name: "declared", declared: int64(len(body)), max: 20_000, want: body},
		{name: "undeclared", declared: -1, max: 20_000, want: body},
		{name: "declared past the limit", declared: 30_000, max: 20_000, want: body},
		{name: "cut at the limit", declared: -1, max: 5_000, want: body[:5_000]},
		{name: "longer than declared", declared: 4_000, max: 20_000, want: body},
		{name: "longer than declared, cut at the limit", declared: 4_000, max: 6_000, want: body[:6_000]},
		{name: "shorter than declared", declared: int64(len(body)) + 1, max: 20_000, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAtMost(onlyReader{bytes.NewReader(body)}, tt.declared, tt.max)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestReadAtMostCopiesOnce: a body of declared length is read into one
// buffer of its size, not grown (io.ReadAll allocates several times).
func TestReadAtMostCopiesOnce(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 10_000)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := readAtMost(onlyReader{bytes.NewReader(body)}, int64(len(body)), 20_000); err != nil {
			t.Fatal(err)
		}
	})
	// The buffer; the reader and its wrapper are the test's.
	require.LessOrEqual(t, allocs, 3.0)
}

// TestHeldJSONTakesTheParsedMessage: the mux's decoder takes the message
// the front handler parsed, its image not copied, and it is the message
// the plain decoder makes of the same bytes; a decoder asked for another
// message reads the bytes.
func TestHeldJSONTakesTheParsedMessage(t *testing.T) {
	t.Parallel()
	image := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 2500)
	body := []byte(`{"imageBase64": "` + base64.StdEncoding.EncodeToString(image) + `", "outputFormat": "png", "strength": 0.5}`)
	plain := &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{UnmarshalOptions: unmarshalJSON}}
	var want enhancev1.EnhanceRequest
	require.NoError(t, plain.NewDecoder(bytes.NewReader(body)).Decode(&want))

	parsed, f := parseJSONBody(body, want.ProtoReflect().Descriptor(), nil)
	require.Nil(t, f)
	held := heldJSON{plain}
	var got enhancev1.EnhanceRequest
	require.NoError(t, held.NewDecoder(&heldBody{Reader: bytes.NewReader(body), parsed: parsed}).Decode(&got))
	require.True(t, proto.Equal(&want, &got))
	require.Same(t, &parsed.(*enhancev1.EnhanceRequest).GetImage()[0], &got.GetImage()[0], "the image was copied")

	var other enhancev1.UpscaleRequest
	err := held.NewDecoder(&heldBody{Reader: bytes.NewReader(body), parsed: parsed}).Decode(&other)
	require.Error(t, err, "strength is not an upscale option: the bytes were read")
}
