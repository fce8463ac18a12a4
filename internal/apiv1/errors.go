package apiv1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/apikeys"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/throttle"
)

// ErrorDomain is the ErrorInfo domain of every error this API returns.
const ErrorDomain = "smartimage.enhance.v1"

// errInvalidRequest wraps a request rejected for its shape (missing or
// duplicated source, for example); its message is safe to show.
var errInvalidRequest = errors.New("invalid request")

// errorRow maps one domain error to what the caller sees. The domain
// errors' messages are written to be shown; anything not in the table is
// an internal error whose cause only the log sees.
type errorRow struct {
	match  error
	code   codes.Code
	reason string
	// message replaces err.Error() when the error's own text is not
	// written for callers.
	message string
}

var errorTable = []errorRow{
	{errInvalidRequest, codes.InvalidArgument, "INVALID_REQUEST", ""},
	{engine.ErrInvalidOption, codes.InvalidArgument, "INVALID_OPTION", ""},
	{engine.ErrUnsupportedFormat, codes.InvalidArgument, "UNSUPPORTED_IMAGE", ""},
	{engine.ErrInvalidImage, codes.InvalidArgument, "INVALID_IMAGE", ""},
	{engine.ErrTooLarge, codes.InvalidArgument, "IMAGE_TOO_LARGE", ""},
	{fetch.ErrRefused, codes.InvalidArgument, "SOURCE_REFUSED", ""},
	{fetch.ErrTooLarge, codes.InvalidArgument, "SOURCE_TOO_LARGE", ""},
	{fetch.ErrNotImage, codes.InvalidArgument, "UNSUPPORTED_IMAGE", ""},
	{fetch.ErrUnreachable, codes.FailedPrecondition, "SOURCE_UNREACHABLE", ""},
	{account.ErrInvalid, codes.InvalidArgument, "INVALID_REGISTRATION", ""},
	{account.ErrEmailTaken, codes.AlreadyExists, "EMAIL_TAKEN", ""},
	{account.ErrRegistrationClosed, codes.PermissionDenied, "REGISTRATION_CLOSED", ""},
	{account.ErrBadCredentials, codes.Unauthenticated, "BAD_CREDENTIALS", ""},
	{account.ErrWrongPassword, codes.PermissionDenied, "WRONG_PASSWORD", ""},
	{account.ErrSessionRequired, codes.PermissionDenied, "SESSION_REQUIRED", ""},
	{apikeys.ErrInvalid, codes.InvalidArgument, "INVALID_KEY_REQUEST", ""},
	{apikeys.ErrNotFound, codes.NotFound, "KEY_NOT_FOUND", ""},
	{apikeys.ErrTooMany, codes.FailedPrecondition, "TOO_MANY_KEYS", ""},
	{throttle.ErrThrottled, codes.ResourceExhausted, "RATE_LIMITED", ""},
	{admission.ErrBusy, codes.ResourceExhausted, "RATE_LIMITED", ""},
	{credits.ErrExhausted, codes.ResourceExhausted, "CREDITS_EXHAUSTED", ""},
	{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "the request did not finish before its deadline"},
	{context.Canceled, codes.Canceled, "CANCELLED", "the request was cancelled"},
}

// retryable is a refusal that says when to come back (throttle.Error,
// admission.BusyError); callers see it as RetryInfo and Retry-After.
type retryable interface {
	error
	RetryDelay() time.Duration
}

// toStatus converts a domain error into the gRPC error the caller gets.
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	for _, row := range errorTable {
		if errors.Is(err, row.match) {
			msg := row.message
			if msg == "" {
				msg = err.Error()
			}
			var retry retryable
			if errors.As(err, &retry) {
				return WithRetry(row.code, msg, row.reason, retry.RetryDelay())
			}
			return WithReason(row.code, msg, row.reason)
		}
	}
	id := requestid.From(ctx)
	log.ErrorContext(ctx, "internal error", "request_id", id, "err", err)
	return WithReason(codes.Internal, "internal error (request id "+id+")", "INTERNAL")
}

// invalidRequest is a request rejected for its shape, with a message
// safe to show.
func invalidRequest(msg string) error {
	return fmt.Errorf("%w: %s", errInvalidRequest, msg)
}

// WithRetry is WithReason plus a RetryInfo, which REST callers see as
// Retry-After.
func WithRetry(code codes.Code, msg, reason string, after time.Duration) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(after.Round(time.Second))},
	); err == nil {
		st = d
	}
	return st.Err()
}

// WithReason builds a status error carrying an ErrorInfo, whose reason
// REST callers see as "code". The interceptors use it too, so every error
// the API returns has the same shape and domain.
func WithReason(code codes.Code, msg, reason string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain}); err == nil {
		st = d
	}
	return st.Err()
}
