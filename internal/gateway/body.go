package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/smartimage/enhance/internal/apierror"
)

// The body kinds the API takes, by Content-Type:
//
//   - application/json (or any +json type): the method's request message
//     in protojson, checked field by field before the mux decodes it;
//   - image/jpeg, image/png, image/webp on the three image calls: the
//     image itself, options in the query string (rawUpload);
//   - application/octet-stream on the image calls: sniffed, and taken as a
//     raw upload when it is a JPEG, PNG or WebP (octetUpload);
//   - multipart/form-data on the image calls: one file part holding the
//     image, options in the query string and the form (multipartUpload);
//   - no Content-Type, application/x-www-form-urlencoded or text/plain:
//     what curl -d and --data-binary send without -H. A JPEG, PNG or WebP
//     is taken as a raw upload on the image calls; anything else is read
//     as JSON, as it always was, except that form-urlencoded and
//     text/plain bodies that do not even start like a JSON object or list
//     are refused with 415, since they are what their label says.
//
// Every other type is refused with 415 and what to send instead.
const (
	formType = "application/x-www-form-urlencoded"
	textType = "text/plain"
)

// serveAPI sends an API call on to the mux, or to an upload, once its body
// kind, body and query string fit the method: everything the mux would
// refuse in programmers' words is refused here in the caller's.
func (g *Gateway) serveAPI(w http.ResponseWriter, r *http.Request) {
	// The mux matches the unescaped path (grpc-gateway's default
	// unescaping mode), so this does too: /v1/%65nhance is /v1/enhance,
	// and must meet the same checks.
	rt := lookupRoute(r.Method, r.URL.Path)
	if rt == nil {
		g.mux.ServeHTTP(w, r) // no such route: the mux answers 404 or 405
		return
	}
	what := r.Method + " " + r.URL.Path
	if rt.body == "" {
		// The request is the path and the query string; a body is ignored.
		if f := checkQuery(r.URL.Query(), rt, what); f != nil {
			g.refuse(w, r, f)
			return
		}
		g.mux.ServeHTTP(w, r)
		return
	}
	upload := r.Method == http.MethodPost && isImageRoute(r.URL.Path)
	mt := mediaType(r.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(mt, "image/"):
		g.rawUpload(w, r)
		return
	case upload && mt == "multipart/form-data":
		g.multipartUpload(w, r)
		return
	case upload && mt == "application/octet-stream":
		g.octetUpload(w, r)
		return
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "" || mt == formType || mt == textType:
	default:
		g.refuse(w, r, unsupportedType(mt, upload))
		return
	}

	// Every body is read whole, within its limit, before any decoding:
	// base64 makes a JSON image a third larger than the raw limit, and no
	// other call needs more than a few kilobytes.
	limit := int64(maxPlainBody)
	if upload {
		limit = g.cfg.MaxImageBytes*4/3 + maxPlainBody
	}
	body, ok := g.readBody(w, r, limit, "the request body is larger than %d bytes")
	if !ok {
		return
	}
	if upload && mt != "application/json" && !strings.HasSuffix(mt, "+json") && sniffImage(body) != "" {
		// curl --data-binary @photo.jpg without -H: an image, unlabelled.
		if int64(len(body)) > g.cfg.MaxImageBytes {
			writeError(w, r, http.StatusRequestEntityTooLarge, apierror.BodyTooLarge,
				fmt.Sprintf("the image is larger than %d bytes", g.cfg.MaxImageBytes))
			return
		}
		g.upload(w, r, body, newOptions(r.URL.Query()))
		return
	}
	if (mt == formType || mt == textType) && !startsLikeJSON(body) {
		g.refuse(w, r, &fault{status: http.StatusUnsupportedMediaType, code: apierror.UnsupportedMediaType,
			detail: fmt.Sprintf("%s bodies are not accepted: send a JSON object with Content-Type: application/json (curl: -H 'Content-Type: application/json' -d '{...}')", mt)})
		return
	}
	var parsed proto.Message
	if md := rt.bodyMessage(); md != nil {
		bound := rt.pathBound
		if rt.body != "*" {
			bound = nil
		}
		m, f := parseJSONBody(body, md, bound)
		if f != nil {
			g.refuse(w, r, f)
			return
		}
		if rt.body == "*" {
			parsed = m
		}
	}
	check := checkQuery
	if rt.body == "*" {
		check = checkNoQuery
	}
	if f := check(r.URL.Query(), rt, what); f != nil {
		if upload && rt.body == "*" {
			f.detail += " (query options are read with an image upload, not with JSON)"
		}
		g.refuse(w, r, f)
		return
	}
	r.Body = &heldBody{Reader: bytes.NewReader(body), parsed: parsed}
	r.ContentLength = int64(len(body))
	g.mux.ServeHTTP(w, r)
}

// heldBody is a request body the front handler has read, checked and, for
// a route whose body is the whole request, parsed: the mux's decoder
// (heldJSON) takes the parsed message instead of parsing the bytes again.
type heldBody struct {
	*bytes.Reader
	parsed proto.Message
}

func (*heldBody) Close() error { return nil }

// heldJSON is the gateway's marshaler with a decoder that takes a parsed
// heldBody's message as it is: the JSON of an image call is parsed, and
// its base64 image decoded, once, where json.Decoder's buffer, its copy
// of the value and protojson copied a large body three times more.
// Anything else it decodes as the marshaler it wraps; the message is the
// one that marshaler would make, since the check parsed it with the same
// options (unmarshalJSON).
type heldJSON struct{ *runtime.HTTPBodyMarshaler }

// NewDecoder implements runtime.Marshaler.
func (m heldJSON) NewDecoder(r io.Reader) runtime.Decoder {
	h, ok := r.(*heldBody)
	if !ok || h.parsed == nil {
		return m.HTTPBodyMarshaler.NewDecoder(r)
	}
	return runtime.DecoderFunc(func(v any) error {
		dst, ok := v.(proto.Message)
		if !ok || h.parsed == nil || dst.ProtoReflect().Descriptor() != h.parsed.ProtoReflect().Descriptor() {
			return m.HTTPBodyMarshaler.NewDecoder(r).Decode(v)
		}
		// The fields move, not copied: the parsed message is not used
		// again, and the body counts as read.
		proto.Reset(dst)
		to := dst.ProtoReflect()
		h.parsed.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			to.Set(fd, v)
			return true
		})
		h.parsed = nil
		h.Reader.Reset(nil)
		return nil
	})
}

// mediaType is the lower-case media type of a Content-Type header, ""
// when there is none; a header with broken parameters still names one.
func mediaType(contentType string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// startsLikeJSON reports a body that is empty (an empty request) or
// starts like a JSON object or list.
func startsLikeJSON(body []byte) bool {
	k := jsonKind(body)
	return k == 0 || k == '{' || k == '['
}

// sendWhat is what an image call takes, for 415 answers.
const sendWhat = "send JSON, or image/jpeg, image/png or image/webp (as the body, or as the one file of a multipart/form-data form)"

func unsupportedType(mt string, upload bool) *fault {
	f := &fault{status: http.StatusUnsupportedMediaType, code: apierror.UnsupportedMediaType}
	switch {
	case upload:
		f.detail = fmt.Sprintf("%s bodies are not accepted: %s", mt, sendWhat)
	default:
		f.detail = fmt.Sprintf("%s bodies are not accepted here: send JSON, with Content-Type: application/json", mt)
	}
	return f
}

// readBody reads the whole body, refusing one over limit with tooLarge (a
// format taking the limit).
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, limit int64, tooLarge string) ([]byte, bool) {
	body, err := readAtMost(r.Body, r.ContentLength, limit+1)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		// The front handler's bound on every body, met first.
		writeError(w, r, http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf(tooLarge, tooBig.Limit))
		return nil, false
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, apierror.BadBody, "the request body could not be read")
		return nil, false
	}
	if int64(len(body)) > limit {
		writeError(w, r, http.StatusRequestEntityTooLarge, apierror.BodyTooLarge, fmt.Sprintf(tooLarge, limit))
		return nil, false
	}
	return body, true
}

// readAtMost reads r to its end or to max bytes, into one buffer of the
// declared length when the request declared one within max: the body is
// then copied once, from the connection. io.ReadAll grows its buffer as
// it reads, copying as it goes (a 10 KB image took 22 KB).
func readAtMost(r io.Reader, declared, max int64) ([]byte, error) {
	if declared <= 0 || declared > max {
		return io.ReadAll(io.LimitReader(r, max))
	}
	// One byte more, to see the end.
	body := make([]byte, declared, declared+1)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	// net/http ends a body at its Content-Length; a reader that does not
	// is read on, as io.ReadAll would.
	if n, err := io.ReadFull(r, body[declared:declared+1]); n == 0 {
		if errors.Is(err, io.EOF) {
			return body, nil
		}
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(r, max-declared-1))
	return slices.Concat(body[:declared+1], rest), err
}

// sniffImage is the type of an image the engine reads, by its first
// bytes: "image/jpeg", "image/png", "image/webp", or "".
func sniffImage(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\xFF\xD8\xFF")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1A\n")):
		return "image/png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	}
	return ""
}

func imageName(mt string) string {
	return strings.ToUpper(strings.TrimPrefix(mt, "image/"))
}

// notAnImage says what a body that should have been an image looks like
// instead, for a 415: "it looks like JSON: send it with ...".
func notAnImage(b []byte) string {
	if k := jsonKind(b); k == '{' || k == '[' {
		return "it looks like JSON: send JSON with Content-Type: application/json"
	}
	if mt, _, _ := mime.ParseMediaType(http.DetectContentType(b)); mt != "application/octet-stream" {
		return "it looks like " + mt
	}
	return ""
}
