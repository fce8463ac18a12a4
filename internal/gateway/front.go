package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/idempotency"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/telemetry"
)

// ServeHTTP is the front handler: request id, HSTS, panic safety, the
// api_key query fallback, header checks, body limits, the dashboard and
// its session cookie, then health, OpenAPI, raw uploads or the gateway
// mux.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// A well-formed client id is kept, so that a caller can match our
	// logs to theirs; anything else is replaced (requestid.Valid).
	id := r.Header.Get(requestid.Header)
	if !requestid.Valid(id) {
		id = requestid.New()
	}
	w.Header().Set("X-Request-Id", id)
	transportSecurity(w)
	r.Header.Set(requestid.Header, id)
	ex := &exchange{}
	r = r.WithContext(withExchange(requestid.With(r.Context(), id), ex))
	rec := &refusalRecorder{ResponseWriter: w}
	w = rec
	body := &countingBody{}
	defer func() {
		if !ex.served.Load() {
			// The gRPC server never saw the call: this is its access line.
			g.logAccess(r, rec, body.n, start)
			return
		}
		// The gRPC server wrote the access line; this adds what the REST
		// caller was told when it was refused.
		if rec.status >= 400 {
			g.log.InfoContext(r.Context(), "request refused", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "code", rec.code, "detail", rec.detail)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			g.log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", p, "stack", string(debug.Stack()))
			writeError(w, r, http.StatusInternalServerError, apierror.Internal, "internal error (request id "+id+")")
		}
	}()
	// Clients may not smuggle metadata in.
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "grpc-metadata-") {
			r.Header.Del(k)
		}
	}
	// Whatever route it takes, no body is read past the largest any call
	// may have; the routes bound theirs tighter.
	if r.Body != nil {
		body.ReadCloser = http.MaxBytesReader(w, r.Body, g.cfg.MaxImageBytes*4/3+maxPlainBody)
		r.Body = body
	}
	if f := checkURL(r); f != nil {
		g.refuse(w, r, f)
		return
	}
	g.moveQueryKey(w, r)
	if !g.checkHeaders(w, r) {
		return
	}
	// The dashboard's pages, and the calls its pages make with the
	// session cookie (browser.go).
	if g.serveDashboard(w, r) || g.browserSession(w, r) {
		return
	}

	switch r.URL.Path {
	case "/healthz":
		g.healthz(w, r)
		return
	case "/readyz":
		g.readyz(w, r)
		return
	case "/openapi.json":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(w, r, "GET")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(g.cfg.OpenAPI)
		return
	}

	g.serveAPI(w, r)
}

// logAccess writes the access line of a REST call that the gRPC server
// never saw: one the gateway answered itself (health, the OpenAPI
// document) or refused (an unknown route, a wrong method, a body too
// large or that does not parse). Its fields are the gRPC line's where
// they apply, with the HTTP status and path; the path is logged without
// its query, which may hold a key. Probes that succeed are logged at
// DEBUG, so that they do not drown the rest. Each is counted too
// (Config.Answered): the gRPC server's metrics never see them.
func (g *Gateway) logAccess(r *http.Request, rec *refusalRecorder, requestBytes int64, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	if g.cfg.Answered != nil {
		g.cfg.Answered(status, rec.code)
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status < 400 && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz"):
		level = slog.LevelDebug
	}
	ctx := r.Context()
	if !g.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
	}
	if id := telemetry.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("kind", "http"),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.String("client", clientIP(r)),
	)
	if rec.code != "" {
		attrs = append(attrs, slog.String("code", rec.code), slog.String("detail", rec.detail))
	}
	attrs = append(attrs, slog.Int64("request_bytes", requestBytes), slog.Int64("response_bytes", rec.written))
	g.log.LogAttrs(ctx, level, "access", attrs...)
}

// countingBody counts the request body's bytes read, for the access line.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// moveQueryKey accepts the api_key query parameter as a fallback for the
// x-api-key header. It is removed from the URL, so nothing downstream
// logs it, and the response says that the header is preferred.
// The rest of the query string is kept byte for byte, so that its own
// checks still see what the caller sent.
func (g *Gateway) moveQueryKey(w http.ResponseWriter, r *http.Request) {
	var kept []string
	found := false
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err != nil || n != "api_key" {
			kept = append(kept, part)
			continue
		}
		if !found && r.Header.Get("X-Api-Key") == "" {
			if v, err := url.QueryUnescape(value); err == nil {
				r.Header.Set("X-Api-Key", v)
			}
		}
		found = true
	}
	if !found {
		return
	}
	r.URL.RawQuery = strings.Join(kept, "&")
	r.RequestURI = r.URL.RequestURI()
	w.Header().Set("Warning", `299 - "api_key in the query string can leak into logs and history; send the x-api-key header instead"`)
}

// checkURL refuses a path or query string that cannot become a request:
// one that does not parse, or that is not UTF-8, which protobuf strings
// must be (the gRPC client would refuse it with an internal error).
func checkURL(r *http.Request) *fault {
	if !utf8.ValidString(r.URL.Path) {
		return badf("", "the path is not valid UTF-8")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		// Parameters would be dropped, or the mux would answer in Go's words.
		detail := "the query string could not be parsed: a % must start an escape like %20"
		if strings.Contains(r.URL.RawQuery, ";") {
			detail = "the query string could not be parsed: separate parameters with &, not ;"
		}
		return badf("", "%s", detail)
	}
	for name, values := range q {
		if !utf8.ValidString(name) {
			return badf("", "a query parameter's name is not valid UTF-8")
		}
		for _, v := range values {
			if !utf8.ValidString(v) {
				return badf(name, "query parameter %s is not valid UTF-8", name)
			}
		}
	}
	return nil
}

// checkHeaders vets the headers that become gRPC metadata, which carries
// printable ASCII only: a credential that cannot be one is dropped (the
// call then fails authentication like any bad key). A malformed
// Idempotency-Key on an image call is refused with the answer the gRPC
// door gives; on other calls, which ignore the header there too, it is
// dropped. It reports whether the request may go on.
func (g *Gateway) checkHeaders(w http.ResponseWriter, r *http.Request) bool {
	for _, name := range []string{"X-Api-Key", "Authorization"} {
		if v := r.Header.Get(name); v != "" && !printableASCII(v) {
			r.Header.Del(name)
		}
	}
	if keys := r.Header.Values(idempotency.Header); len(keys) > 0 {
		if len(keys) > 1 || !idempotency.ValidKey(keys[0]) {
			if r.Method != http.MethodPost || !isImageRoute(r.URL.Path) {
				r.Header.Del(idempotency.Header)
				return true
			}
			writeProblem(w, r, http.StatusBadRequest, apierror.InvalidIdempotencyKey, "Idempotency-Key", idempotency.ErrInvalidKey.Error())
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxPlainBody bounds the JSON body of every call that carries no image.
const maxPlainBody = 64 << 10

// isImageRoute reports the three calls whose JSON body may carry an image.
func isImageRoute(path string) bool {
	switch path {
	case "/v1/enhance", "/v1/upscale", "/v1/colorize":
		return true
	}
	return false
}

func (g *Gateway) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, r, "GET")
		return
	}
	if err := g.cfg.Ready(r.Context()); err != nil {
		g.log.WarnContext(r.Context(), "not ready", "request_id", requestid.From(r.Context()), "err", err)
		writeError(w, r, http.StatusServiceUnavailable, apierror.NotReady, "the service is not ready")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, r, http.StatusMethodNotAllowed, apierror.MethodNotAllowed,
		fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// clientIP is the caller's address as this server saw it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
