package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smartimage/enhance/internal/requestid"
)

// Problem is the JSON body of every REST error: RFC 9457 member names,
// plus a machine-readable code and the request id.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
}

func writeError(w http.ResponseWriter, r *http.Request, httpStatus int, code, detail string) {
	if rec, ok := w.(*refusalRecorder); ok {
		rec.code, rec.detail = code, detail
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
		Code:      code,
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
	writeStatus(w, r, status.Convert(err))
}

func writeStatus(w http.ResponseWriter, r *http.Request, st *status.Status) {
	code, reason := httpStatus(st), reasonOf(st)
	for _, d := range st.Details() {
		if retry, ok := d.(*errdetails.RetryInfo); ok && retry.GetRetryDelay() != nil {
			secs := max(1, int(retry.GetRetryDelay().AsDuration().Seconds()+0.999))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	detail := st.Message()
	switch {
	case reason != "":
	case st.Code() == codes.InvalidArgument:
		// The only INVALID_ARGUMENT without a reason is the gateway's own:
		// a body or query that does not parse for this method.
		reason = "MALFORMED_REQUEST"
		detail = "the request could not be parsed: " + strings.TrimPrefix(detail, "proto: ")
	case st.Code() == codes.Unavailable:
		reason = "UNAVAILABLE"
		detail = "the service is temporarily unavailable; retry shortly"
	default:
		reason = st.Code().String()
		reason = strings.ToUpper(camelToSnake(reason))
	}
	writeError(w, r, code, reason, detail)
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
		if reasonOf(st) == "CREDITS_EXHAUSTED" {
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

// reasonOf is the ErrorInfo reason a status carries, "" if none.
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// routingError answers unknown paths (404) and wrong methods (405) as JSON.
func (g *Gateway) routingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		writeError(w, r, httpStatus, "METHOD_NOT_ALLOWED", "method "+r.Method+" is not allowed on "+r.URL.Path)
	case http.StatusNotFound:
		writeError(w, r, httpStatus, "NOT_FOUND", "no such route: "+r.Method+" "+r.URL.Path)
	default:
		writeError(w, r, httpStatus, "BAD_REQUEST", http.StatusText(httpStatus))
	}
}

func camelToSnake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// refusalRecorder remembers the error a REST answer carried, so that the
// front handler can log every refusal (the gateway's own, such as 413 or
// a body that does not parse, as well as the gRPC server's) with its
// reason and request id.
type refusalRecorder struct {
	http.ResponseWriter
	status       int
	code, detail string
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
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *refusalRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
