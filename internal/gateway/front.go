package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/smartimage/enhance/internal/requestid"
)

// ServeHTTP is the front handler: request id, panic safety, the api_key
// query fallback, body limits, then health, OpenAPI, raw uploads or the
// gateway mux.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := requestid.New()
	w.Header().Set("X-Request-Id", id)
	r.Header.Set(requestid.Header, id)
	r = r.WithContext(requestid.With(r.Context(), id))
	rec := &refusalRecorder{ResponseWriter: w}
	w = rec
	defer func() {
		// One line per refused REST call: status, code and detail with the
		// request id; the path without its query, which may hold a key.
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
			writeError(w, r, http.StatusInternalServerError, "INTERNAL", "internal error (request id "+id+")")
		}
	}()
	// Clients may not smuggle metadata in.
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "grpc-metadata-") {
			r.Header.Del(k)
		}
	}
	g.moveQueryKey(w, r)

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

	if r.Method == http.MethodPost && isImageUpload(r) {
		g.rawUpload(w, r)
		return
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Every body is read whole, within its limit, before any decoding:
		// base64 makes a JSON image a third larger than the raw limit, and
		// no other call needs more than a few kilobytes.
		limit := int64(maxPlainBody)
		if r.Method == http.MethodPost && isImageRoute(r.URL.Path) {
			limit = g.cfg.MaxImageBytes*4/3 + maxPlainBody
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeError(w, r, http.StatusBadRequest, "BAD_BODY", "the request body could not be read")
			return
		}
		if int64(len(body)) > limit {
			writeError(w, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE",
				fmt.Sprintf("the request body is larger than %d bytes", limit))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	g.mux.ServeHTTP(w, r)
}

// moveQueryKey accepts the api_key query parameter as a fallback for the
// x-api-key header. It is removed from the URL, so nothing downstream
// logs it, and the response says that the header is preferred.
func (g *Gateway) moveQueryKey(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("api_key") {
		return
	}
	if r.Header.Get("X-Api-Key") == "" {
		r.Header.Set("X-Api-Key", q.Get("api_key"))
	}
	q.Del("api_key")
	r.URL.RawQuery = q.Encode()
	r.RequestURI = r.URL.RequestURI()
	w.Header().Set("Warning", `299 - "api_key in the query string can leak into logs and history; send the x-api-key header instead"`)
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

func isImageUpload(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.HasPrefix(mt, "image/")
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
		writeError(w, r, http.StatusServiceUnavailable, "NOT_READY", "the service is not ready")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, r, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED",
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
