// Package apierror is the shape of every error the API returns: the
// reason codes callers branch on, the statuses that carry them (with the
// request field at fault and when to retry), and the Table type through
// which the server's error interceptor turns domain errors into statuses.
// The table itself belongs to the service implementations (apiv1.Errors),
// which know the domain errors; this package imports none of them, so the
// gateway and the interceptors can use it without pulling them in.
package apierror

import (
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Domain is the ErrorInfo domain of every error this API returns.
const Domain = "smartimage.enhance.v1"

// Reason is an error's machine-readable code: ErrorInfo.reason on gRPC,
// "code" in a REST problem body. Clients branch on it, so a reason, once
// published, keeps its meaning.
type Reason string

// The reasons, in the order of the README's error table.
const (
	// MalformedRequest: the body or query does not parse for the method.
	MalformedRequest Reason = "MALFORMED_REQUEST"
	// BadBody: the request body could not be read at all.
	BadBody Reason = "BAD_BODY"
	// InvalidRequest: no image source, or two.
	InvalidRequest Reason = "INVALID_REQUEST"
	// InvalidOption: an option (format, quality, type ...) is out of range.
	InvalidOption Reason = "INVALID_OPTION"
	// UnsupportedImage: the bytes are not a JPEG, PNG or WebP.
	UnsupportedImage Reason = "UNSUPPORTED_IMAGE"
	// InvalidImage: the image is corrupt or cut short.
	InvalidImage Reason = "INVALID_IMAGE"
	// ImageTooLarge: over a pixel, scan or frame limit.
	ImageTooLarge Reason = "IMAGE_TOO_LARGE"
	// UnsupportedMediaType: a body of a type the route does not take.
	UnsupportedMediaType Reason = "UNSUPPORTED_MEDIA_TYPE"
	// BodyTooLarge: the body is over the byte limit.
	BodyTooLarge Reason = "BODY_TOO_LARGE"
	// SourceRefused: imageUrl aims at a refused scheme, address or port.
	SourceRefused Reason = "SOURCE_REFUSED"
	// SourceUnreachable: imageUrl could not be fetched.
	SourceUnreachable Reason = "SOURCE_UNREACHABLE"
	// SourceTooLarge: imageUrl served more than the byte limit.
	SourceTooLarge Reason = "SOURCE_TOO_LARGE"
	// Unauthenticated: a missing, malformed, unknown, expired or revoked
	// credential; one message for all.
	Unauthenticated Reason = "UNAUTHENTICATED"
	// MissingScope: the key lacks the method's scope.
	MissingScope Reason = "MISSING_SCOPE"
	// CreditsExhausted: the period's credits do not cover the request.
	CreditsExhausted Reason = "CREDITS_EXHAUSTED"
	// RateLimited: too many requests, failed attempts or queued images.
	RateLimited Reason = "RATE_LIMITED"
	// IdempotencyKeyReused: the key came with a different request.
	IdempotencyKeyReused Reason = "IDEMPOTENCY_KEY_REUSED"
	// IdempotencyKeyInUse: the key's first request still runs.
	IdempotencyKeyInUse Reason = "IDEMPOTENCY_KEY_IN_USE"
	// InvalidIdempotencyKey: the key is empty, too long or not ASCII.
	InvalidIdempotencyKey Reason = "INVALID_IDEMPOTENCY_KEY"
	// SessionRequired: an API key on a session-only method.
	SessionRequired Reason = "SESSION_REQUIRED"
	// BadCredentials: sign-in with a wrong email or password.
	BadCredentials Reason = "BAD_CREDENTIALS"
	// WrongPassword: erasure with a wrong password.
	WrongPassword Reason = "WRONG_PASSWORD"
	// InvalidRegistration: a bad email or password at registration.
	InvalidRegistration Reason = "INVALID_REGISTRATION"
	// EmailTaken: the email is already registered.
	EmailTaken Reason = "EMAIL_TAKEN"
	// RegistrationClosed: the operator has closed registration.
	RegistrationClosed Reason = "REGISTRATION_CLOSED"
	// InvalidKeyRequest: a bad key name, scope, expiry or grace period.
	InvalidKeyRequest Reason = "INVALID_KEY_REQUEST"
	// KeyNotFound: no such key among the caller's live keys.
	KeyNotFound Reason = "KEY_NOT_FOUND"
	// TooManyKeys: the account holds the most live keys it may.
	TooManyKeys Reason = "TOO_MANY_KEYS"
	// NotFound: no such route.
	NotFound Reason = "NOT_FOUND"
	// MethodNotAllowed: the route exists, not with this HTTP method.
	MethodNotAllowed Reason = "METHOD_NOT_ALLOWED"
	// Unimplemented: a gRPC method this server does not serve.
	Unimplemented Reason = "UNIMPLEMENTED"
	// DeadlineExceeded: the request did not finish in time.
	DeadlineExceeded Reason = "DEADLINE_EXCEEDED"
	// Cancelled: the client went away.
	Cancelled Reason = "CANCELLED"
	// NotReady: /readyz while the database or the gRPC server is down.
	NotReady Reason = "NOT_READY"
	// Unavailable: the gateway could not reach the gRPC server, or the
	// server its database.
	Unavailable Reason = "UNAVAILABLE"
	// Internal: anything else; the detail has only the request id.
	Internal Reason = "INTERNAL"
)

// Reasons lists every reason above, so that a test can produce each one.
var Reasons = []Reason{
	MalformedRequest, BadBody, InvalidRequest, InvalidOption, UnsupportedImage, InvalidImage, ImageTooLarge,
	UnsupportedMediaType, BodyTooLarge, SourceRefused, SourceUnreachable, SourceTooLarge,
	Unauthenticated, MissingScope, CreditsExhausted, RateLimited,
	IdempotencyKeyReused, IdempotencyKeyInUse, InvalidIdempotencyKey,
	SessionRequired, BadCredentials, WrongPassword, InvalidRegistration, EmailTaken, RegistrationClosed,
	InvalidKeyRequest, KeyNotFound, TooManyKeys,
	NotFound, MethodNotAllowed, Unimplemented, DeadlineExceeded, Cancelled, NotReady, Unavailable, Internal,
}

// ErrInvalidRequest wraps a request rejected for its shape (no image
// source, two sources, a bad page token); its message is written to be
// shown.
var ErrInvalidRequest = errors.New("invalid request")

// Row maps one domain error to what the caller sees. The domain errors'
// messages are written to be shown, unless Message replaces them.
type Row struct {
	Match   error
	Code    codes.Code
	Reason  Reason
	Message string
}

// Table maps domain errors to statuses: the first row whose Match the
// error is (errors.Is) wins.
type Table []Row

// retryable is a refusal that says when to come back; callers see
// RetryInfo on gRPC and Retry-After on REST.
type retryable interface {
	error
	RetryDelay() time.Duration
}

// Status is the status err gives its caller; known is false when no row
// matches, and the error is internal: its text must not reach the caller.
func (t Table) Status(err error) (st *status.Status, known bool) {
	for _, r := range t {
		if !errors.Is(err, r.Match) {
			continue
		}
		msg := r.Message
		if msg == "" {
			msg = err.Error()
		}
		var retry time.Duration
		var rt retryable
		if errors.As(err, &rt) {
			retry = rt.RetryDelay()
		}
		return New(r.Code, r.Reason, msg, ParamOf(err), retry), true
	}
	return nil, false
}

// InternalStatus is what every error whose cause only the log may see
// becomes: the request id lets support find that log line.
func InternalStatus(requestID string) *status.Status {
	return New(codes.Internal, Internal, "internal error (request id "+requestID+")", "", 0)
}

// New builds a status carrying an ErrorInfo with reason, a BadRequest
// naming param when it is not "", and a RetryInfo when retry is positive.
func New(code codes.Code, reason Reason, msg, param string, retry time.Duration) *status.Status {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: string(reason), Domain: Domain}}
	if param != "" {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: param, Description: msg},
		}})
	}
	if retry > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(max(retry, time.Second).Round(time.Second))})
	}
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st
}

// ReasonOf is the ErrorInfo reason st carries, "" if none.
func ReasonOf(st *status.Status) Reason {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return Reason(info.GetReason())
		}
	}
	return ""
}

// FieldOf is the request field st's BadRequest names, "" if none.
func FieldOf(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// RetryOf is the RetryInfo delay st carries, 0 if none.
func RetryOf(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok && r.GetRetryDelay() != nil {
			return r.GetRetryDelay().AsDuration()
		}
	}
	return 0
}
