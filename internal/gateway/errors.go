package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/requestid"
)

// Problem is the JSON body of every REST error: RFC 9457 member names,
// plus a machine-readable code, the request field at fault when there is
// one, and the request id.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// Param names the request field the error is about, as the API spells
	// it ("outputFormat"); absent when the error is about no one field.
	Param     string `json:"param,omitempty"`
	RequestID string `json:"requestId"`
}

// writeError answers a refusal the gateway makes itself.
func writeError(w http.ResponseWriter, r *http.Request, httpStatus int, code apierror.Reason, detail string) {
	writeProblem(w, r, httpStatus, code, "", detail)
}

// writeProblem writes the problem body; param may be "".
func writeProblem(w http.ResponseWriter, r *http.Request, httpStatus int, code apierror.Reason, param, detail string) {
	if rec, ok := w.(*refusalRecorder); ok {
		rec.code, rec.detail = string(code), detail
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(Problem{
		Type:      "about:blank",
		Title:     http.StatusText(httpStatus),
		Status:    httpStatus,
		Detail:    detail,
		Code:      string(code),
		Param:     param,
		RequestID: requestid.From(r.Context()),
	})
}

// grpcError is the gateway's error handler: a gRPC status becomes a
// Problem with the HTTP status from httpStatus.
func (g *Gateway) grpcError(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
		for k, vs := range md.HeaderMD {
			if name, ok := outgoingHeader(k); ok {
				for _, v := range vs {
					w.Header().Add(name, v)
				}
			}
		}
	}
	g.writeStatus(w, r, status.Convert(err))
}

// writeStatus writes a gRPC status as a problem. Every status the server
// makes carries a reason (package apierror); one without is the gRPC
// machinery's own (a connection failure, a message over a limit) or the
// gateway's (a body that does not parse), and its message, written for
// programmers, goes to the log while the caller gets one in its words.
func (g *Gateway) writeStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	code, reason, detail := httpStatus(st), apierror.ReasonOf(st), st.Message()
	if retry := apierror.RetryOf(st); retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()+0.999))))
	}
	if reason == "" {
		id := requestid.From(r.Context())
		switch st.Code() {
		case codes.InvalidArgument:
			// The gateway's own decoding, past what the front handler's
			// checks catch: protojson's text is for programmers.
			reason, detail = apierror.MalformedRequest, "the request does not match this method's fields and types: see /openapi.json"
		case codes.Unavailable:
			reason, detail = apierror.Unavailable, "the service is temporarily unavailable; retry shortly"
		case codes.DeadlineExceeded:
			reason, detail = apierror.DeadlineExceeded, "the request did not finish before its deadline"
		case codes.Canceled:
			reason, detail = apierror.Cancelled, "the request was cancelled"
		case codes.ResourceExhausted:
			// gRPC's own message size limits, on the request the gateway
			// would send or on the answer it would receive (grpc-go says
			// which; the gateway's checks keep both out of reach).
			if strings.Contains(st.Message(), "send") {
				reason, detail = apierror.BodyTooLarge, "the request is larger than this server accepts"
				code = http.StatusRequestEntityTooLarge
			} else {
				reason, detail = apierror.ImageTooLarge, "the result is larger than this server may send"
				code = http.StatusBadRequest
			}
		default:
			reason, detail = apierror.Internal, "internal error (request id "+id+")"
			code = http.StatusInternalServerError
		}
		g.log.WarnContext(r.Context(), "gRPC status without a reason", "request_id", id, "grpc_code", st.Code().String(), "message", st.Message())
	}
	writeProblem(w, r, code, reason, apierror.FieldOf(st), detail)
}

// httpStatus is the one table from gRPC codes to HTTP statuses.
func httpStatus(st *status.Status) int {
	switch st.Code() {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.FailedPrecondition:
		return http.StatusUnprocessableEntity
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		if apierror.ReasonOf(st) == apierror.CreditsExhausted {
			return http.StatusPaymentRequired
		}
		return http.StatusTooManyRequests
	case codes.Canceled:
		return 499 // client closed request; nobody is listening
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// routingError answers unknown paths (404) and wrong methods (405) as JSON.
func (g *Gateway) routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		if allow := allowedMethods(r.URL.EscapedPath()); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
		writeError(w, r, httpStatus, apierror.MethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path)
	case http.StatusNotFound:
		writeError(w, r, httpStatus, apierror.NotFound, "no such route: "+r.Method+" "+r.URL.Path)
	default:
		writeError(w, r, httpStatus, apierror.MalformedRequest, "the request could not be parsed: "+http.StatusText(httpStatus))
	}
}

// refusalRecorder remembers the status and error a REST answer carried,
// and its size, so that the front handler can log every refusal (the
// gateway's own, such as 413 or a body that does not parse, as well as
// the gRPC server's) with its reason and request id.
type refusalRecorder struct {
	http.ResponseWriter
	status       int
	code, detail string
	written      int64
}

func (r *refusalRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *refusalRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *refusalRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
