package gateway

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/requestid"
)

// imageResponse is what the three image responses share.
type imageResponse interface {
	GetImage() *httpbody.HttpBody
	GetWidthPixels() int32
	GetHeightPixels() int32
	GetSteps() []*enhancev1.AppliedStep
}

// imageHeaders turns an image response's fields into headers; the body is
// the image itself (the rule's response_body).
func imageHeaders(_ context.Context, w http.ResponseWriter, m proto.Message) error {
	resp, ok := m.(imageResponse)
	if !ok {
		return nil
	}
	setImageHeaders(w.Header(), resp)
	return nil
}

func setImageHeaders(h http.Header, resp imageResponse) {
	h.Set("Content-Type", resp.GetImage().GetContentType())
	h.Set("X-Image-Width", strconv.Itoa(int(resp.GetWidthPixels())))
	h.Set("X-Image-Height", strconv.Itoa(int(resp.GetHeightPixels())))
	h.Set("X-Enhancement-Steps", stepsReport(resp.GetSteps()))
	h.Set("Cache-Control", "no-store")
}

// stepsReport renders steps as `levels(black=0.02,gamma=0.9), sharpen(...)`;
// "none" when the image needed nothing.
func stepsReport(steps []*enhancev1.AppliedStep) string {
	if len(steps) == 0 {
		return "none"
	}
	parts := make([]string, len(steps))
	for i, s := range steps {
		keys := make([]string, 0, len(s.GetParameters()))
		for k := range s.GetParameters() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]string, len(keys))
		for j, k := range keys {
			kv[j] = k + "=" + s.GetParameters()[k]
		}
		parts[i] = s.GetName() + "(" + strings.Join(kv, ",") + ")"
	}
	return strings.Join(parts, ", ")
}

// acceptedImageTypes are the raw bodies the engine reads; a declared TIFF,
// BMP, GIF or other image is refused before its bytes are read. The bytes
// are still sniffed: a PNG labelled image/jpeg is decoded as the PNG it is.
var acceptedImageTypes = map[string]bool{
	"image/jpeg": true, "image/jpg": true, "image/pjpeg": true,
	"image/png": true, "image/webp": true,
}

// rawUpload serves POST /v1/{enhance,upscale,colorize} with an image/*
// body and options in the query string, by calling the same gRPC method
// through the same connection as the generated routes.
func (g *Gateway) rawUpload(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/v1/")
	if method != "enhance" && method != "upscale" && method != "colorize" {
		writeError(w, r, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
			"an image body is accepted only by /v1/enhance, /v1/upscale and /v1/colorize")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); !acceptedImageTypes[mt] {
		writeError(w, r, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
			fmt.Sprintf("%s bodies are not accepted: send image/jpeg, image/png or image/webp", mt))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, g.cfg.MaxImageBytes+1))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "BAD_BODY", "the request body could not be read")
		return
	}
	if int64(len(body)) > g.cfg.MaxImageBytes {
		writeError(w, r, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE",
			fmt.Sprintf("the image is larger than %d bytes", g.cfg.MaxImageBytes))
		return
	}
	q := query{values: r.URL.Query()}
	md := metadata.Pairs(requestid.Header, requestid.From(r.Context()))
	for header, key := range forwardedHeaders {
		if v := r.Header.Get(header); v != "" {
			md.Set(key, v)
		}
	}
	if xff := clientIP(r); xff != "" {
		md.Set("x-forwarded-for", xff)
	}
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	var header metadata.MD
	var resp imageResponse
	switch method {
	case "enhance":
		req := &enhancev1.EnhanceRequest{Image: body, EnhancementType: q.str("enhancementType"), OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), Strength: q.float32("strength"), DryRun: q.bool("dryRun")}
		if q.check(w, r) {
			resp, err = g.images.Enhance(ctx, req, grpc.Header(&header))
		}
	case "upscale":
		req := &enhancev1.UpscaleRequest{Image: body, ScaleFactor: q.int32("scaleFactor"), OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), DryRun: q.bool("dryRun")}
		if q.check(w, r) {
			resp, err = g.images.Upscale(ctx, req, grpc.Header(&header))
		}
	case "colorize":
		req := &enhancev1.ColorizeRequest{Image: body, OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), ReferenceImageUrl: q.str("referenceImageUrl"), DryRun: q.bool("dryRun")}
		if q.check(w, r) {
			resp, err = g.images.Colorize(ctx, req, grpc.Header(&header))
		}
	}
	if resp == nil && err == nil {
		return // q.check wrote the error
	}
	for k, vs := range header {
		if name, ok := outgoingHeader(k); ok {
			for _, v := range vs {
				w.Header().Add(name, v)
			}
		}
	}
	if err != nil {
		writeStatus(w, r, status.Convert(err))
		return
	}
	setImageHeaders(w.Header(), resp)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.GetImage().GetData())))
	w.WriteHeader(http.StatusOK)
	w.Write(resp.GetImage().GetData())
}

// query reads options from a raw upload's query string, remembering the
// first problem and which parameters were used.
type query struct {
	values map[string][]string
	used   map[string]bool
	err    string
}

func (q *query) str(name string) string {
	if q.used == nil {
		q.used = map[string]bool{}
	}
	q.used[name] = true
	v := q.values[name]
	if len(v) > 1 && q.err == "" {
		// Which one was meant is a guess; refuse rather than pick.
		q.err = fmt.Sprintf("query parameter %s is given %d times", name, len(v))
	}
	if len(v) > 0 {
		return v[0]
	}
	return ""
}

func (q *query) int32(name string) int32 {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil && q.err == "" {
		q.err = fmt.Sprintf("query parameter %s=%q is not an integer", name, s)
	}
	return int32(n)
}

// bool reads a flag: absent, "true" or "false".
func (q *query) bool(name string) bool {
	s := q.str(name)
	if s == "" {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil && q.err == "" {
		q.err = fmt.Sprintf("query parameter %s=%q is not true or false", name, s)
	}
	return v
}

// float32 reads an optional number: nil when the parameter is absent.
func (q *query) float32(name string) *float32 {
	s := q.str(name)
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 32)
	if err != nil && q.err == "" {
		q.err = fmt.Sprintf("query parameter %s=%q is not a number", name, s)
	}
	v := float32(f)
	return &v
}

// check writes a 400 for a bad or unknown parameter and reports whether
// the request may go on.
func (q *query) check(w http.ResponseWriter, r *http.Request) bool {
	if q.err == "" {
		for name := range q.values {
			if !q.used[name] {
				q.err = fmt.Sprintf("unknown query parameter %q", name)
				break
			}
		}
	}
	if q.err != "" {
		writeError(w, r, http.StatusBadRequest, "INVALID_OPTION", q.err)
		return false
	}
	return true
}
