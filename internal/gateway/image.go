package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apierror"
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
	if r.Method != http.MethodPost || !isImageRoute(r.URL.Path) {
		writeError(w, r, http.StatusUnsupportedMediaType, apierror.UnsupportedMediaType,
			"an image body is accepted only by /v1/enhance, /v1/upscale and /v1/colorize")
		return
	}
	if mt := mediaType(r.Header.Get("Content-Type")); !acceptedImageTypes[mt] {
		writeError(w, r, http.StatusUnsupportedMediaType, apierror.UnsupportedMediaType,
			fmt.Sprintf("%s bodies are not accepted: send image/jpeg, image/png or image/webp", mt))
		return
	}
	body, ok := g.readBody(w, r, g.cfg.MaxImageBytes, "the image is larger than %d bytes")
	if !ok {
		return
	}
	g.upload(w, r, body, newOptions(r.URL.Query()))
}

// octetUpload serves an application/octet-stream body on the image
// calls: a raw upload when its bytes are a JPEG, PNG or WebP.
func (g *Gateway) octetUpload(w http.ResponseWriter, r *http.Request) {
	body, ok := g.readBody(w, r, g.cfg.MaxImageBytes, "the image is larger than %d bytes")
	if !ok {
		return
	}
	if sniffImage(body) == "" {
		detail := "this application/octet-stream body is not a JPEG, PNG or WebP image"
		if like := notAnImage(body); like != "" {
			detail += " (" + like + ")"
		}
		writeError(w, r, http.StatusUnsupportedMediaType, apierror.UnsupportedMediaType, detail+": "+sendWhat)
		return
	}
	g.upload(w, r, body, newOptions(r.URL.Query()))
}

// upload calls the image method of the request's path with image and the
// options, and writes its answer as the generated routes would.
func (g *Gateway) upload(w http.ResponseWriter, r *http.Request, image []byte, q *options) {
	md := metadata.Pairs(requestid.Header, requestid.From(r.Context()))
	for header, key := range forwardedHeaders {
		if v := r.Header.Get(header); v != "" {
			md.Set(key, v)
		}
	}
	md = metadata.Join(md, g.cfg.Proof.Metadata(clientIP(r)))
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	// The caller's Grpc-Timeout, as the generated routes honour it (the
	// server caps it either way).
	if d, ok := grpcTimeout(r.Header.Get("Grpc-Timeout")); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var header metadata.MD
	var resp imageResponse
	var err error
	switch strings.TrimPrefix(r.URL.Path, "/v1/") {
	case "enhance":
		q.md = (*enhancev1.EnhanceRequest)(nil).ProtoReflect().Descriptor()
		req := &enhancev1.EnhanceRequest{Image: image, EnhancementType: q.str("enhancementType"), OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), Strength: q.float32("strength"), DryRun: q.bool("dryRun")}
		if q.check(w, r) {
			resp, err = g.images.Enhance(ctx, req, grpc.Header(&header))
		}
	case "upscale":
		q.md = (*enhancev1.UpscaleRequest)(nil).ProtoReflect().Descriptor()
		req := &enhancev1.UpscaleRequest{Image: image, ScaleFactor: q.int32("scaleFactor"), OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), DryRun: q.bool("dryRun"), Mode: q.str("mode")}
		if q.check(w, r) {
			resp, err = g.images.Upscale(ctx, req, grpc.Header(&header))
		}
	case "colorize":
		q.md = (*enhancev1.ColorizeRequest)(nil).ProtoReflect().Descriptor()
		req := &enhancev1.ColorizeRequest{Image: image, OutputFormat: q.str("outputFormat"), Quality: q.int32("quality"), ReferenceImageUrl: q.str("referenceImageUrl"), DryRun: q.bool("dryRun")}
		if q.check(w, r) {
			resp, err = g.images.Colorize(ctx, req, grpc.Header(&header))
		}
	default:
		writeError(w, r, http.StatusUnsupportedMediaType, apierror.UnsupportedMediaType,
			"an image body is accepted only by /v1/enhance, /v1/upscale and /v1/colorize")
		return
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
		g.writeStatus(w, r, status.Convert(err))
		return
	}
	setImageHeaders(w.Header(), resp)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.GetImage().GetData())))
	w.WriteHeader(http.StatusOK)
	w.Write(resp.GetImage().GetData())
}

// options reads an upload's options from its query string and, for a
// multipart form, its fields, remembering the first problem and which
// options were read. A name is the request field's JSON name; its proto
// name (output_format) is taken too, as in JSON.
type options struct {
	values map[string][]string
	// form holds the names that came from form fields, not the query.
	form map[string]bool
	// md is the request message, for what a value should look like.
	md   protoreflect.MessageDescriptor
	used []string
	// err is the first problem, param the option it is about.
	err, param string
}

func newOptions(query map[string][]string) *options {
	return &options{values: query, form: map[string]bool{}}
}

// addForm adds a form's fields; a name the query string gives too is an
// error, since which one was meant is a guess.
func (q *options) addForm(fields map[string][]string) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, dup := q.values[name]; dup {
			q.fail(name, "%s is given both in the query string and as a form field; give it once", name)
			continue
		}
		q.values[name] = fields[name]
		q.form[name] = true
	}
}

// fail records the first problem only.
func (q *options) fail(param, format string, args ...any) {
	if q.err == "" {
		q.err, q.param = fmt.Sprintf(format, args...), param
	}
}

// where says where a name came from: "query parameter" or "form field".
func (q *options) where(name string) string {
	if q.form[name] {
		return "form field"
	}
	return "query parameter"
}

// str reads a text option, by its JSON name or its proto name.
func (q *options) str(name string) string {
	q.used = append(q.used, name)
	key, v := name, q.values[name]
	if alias := protoName(name); alias != name {
		q.used = append(q.used, alias)
		if w, ok := q.values[alias]; ok {
			if _, both := q.values[name]; both {
				q.fail(name, "%s is given twice, as %s and %s", name, name, alias)
			}
			key, v = alias, w
		}
	}
	if len(v) > 1 {
		// Which one was meant is a guess; refuse rather than pick.
		q.fail(name, "%s %s is given %d times", q.where(key), name, len(v))
	}
	if len(v) > 0 {
		return v[0]
	}
	return ""
}

// protoName is the snake_case proto name of a lowerCamelCase JSON name.
func protoName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// bad records that option name's value is not what it should be.
func (q *options) bad(name, fallback string) {
	want := fallback
	if q.md != nil {
		if fd := q.md.Fields().ByJSONName(name); fd != nil {
			want = strings.ReplaceAll(requirement(fd), `"`, "")
		}
	}
	q.fail(name, "%s %s must be %s", q.where(name), name, want)
}

func (q *options) int32(name string) int32 {
	s := q.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		q.bad(name, "a whole number")
	}
	return int32(n)
}

// bool reads a flag: absent, "true" or "false".
func (q *options) bool(name string) bool {
	s := q.str(name)
	if s == "" {
		return false
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		q.bad(name, "true or false")
	}
	return v
}

// float32 reads an optional number: nil when the option is absent.
func (q *options) float32(name string) *float32 {
	s := q.str(name)
	if s == "" {
		return nil
	}
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		q.bad(name, "a number")
	}
	v := float32(f)
	return &v
}

// check writes a 400 for a bad or unknown option and reports whether the
// request may go on.
func (q *options) check(w http.ResponseWriter, r *http.Request) bool {
	names := make([]string, 0, len(q.values))
	for name := range q.values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if slices.Contains(q.used, name) {
			continue
		}
		var known []string
		for _, u := range q.used {
			if !strings.Contains(u, "_") {
				known = append(known, u)
			}
		}
		if s := suggest(name, known); s != "" {
			q.fail(name, "unknown %s %q: did you mean %s?", q.where(name), name, s)
		} else {
			q.fail(name, "unknown %s %q: this call takes %s", q.where(name), name, strings.Join(known, ", "))
		}
		break
	}
	if q.err != "" {
		writeProblem(w, r, http.StatusBadRequest, apierror.InvalidOption, q.param, q.err)
		return false
	}
	return true
}

// grpcTimeout reads a Grpc-Timeout value: up to 8 digits and a unit (H,
// M, S, m, u, n), as the gRPC wire format and grpc-gateway have it.
func grpcTimeout(v string) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit, ok := map[byte]time.Duration{
		'H': time.Hour, 'M': time.Minute, 'S': time.Second,
		'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond,
	}[v[len(v)-1]]
	if !ok {
		return 0, false
	}
	return time.Duration(n) * unit, true
}
