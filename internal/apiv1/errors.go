package apiv1

import (
	"context"

	"google.golang.org/grpc/codes"

	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/apikeys"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
	"github.com/smartimage/enhance/internal/idempotency"
	"github.com/smartimage/enhance/internal/ratelimit"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/throttle"
)

// UnauthenticatedMessage is the one message every authentication failure
// gets, whatever was wrong, so that a caller learns nothing about keys.
const UnauthenticatedMessage = "invalid or missing API key: send a valid key in the x-api-key header (account and key management also take a session token as Authorization: Bearer)"

// Errors is the one table from the domain errors that handlers and
// interceptors return to what callers see. The server's error interceptor
// applies it; an error it does not know is internal.
var Errors = apierror.Table{
	{Match: apierror.ErrInvalidRequest, Code: codes.InvalidArgument, Reason: apierror.InvalidRequest},
	{Match: engine.ErrInvalidOption, Code: codes.InvalidArgument, Reason: apierror.InvalidOption},
	{Match: engine.ErrUnsupportedFormat, Code: codes.InvalidArgument, Reason: apierror.UnsupportedImage},
	{Match: engine.ErrInvalidImage, Code: codes.InvalidArgument, Reason: apierror.InvalidImage},
	{Match: engine.ErrTooLarge, Code: codes.InvalidArgument, Reason: apierror.ImageTooLarge},
	{Match: fetch.ErrRefused, Code: codes.InvalidArgument, Reason: apierror.SourceRefused},
	{Match: fetch.ErrTooLarge, Code: codes.InvalidArgument, Reason: apierror.SourceTooLarge},
	{Match: fetch.ErrNotImage, Code: codes.InvalidArgument, Reason: apierror.UnsupportedImage},
	{Match: fetch.ErrUnreachable, Code: codes.FailedPrecondition, Reason: apierror.SourceUnreachable},
	{Match: auth.ErrUnauthenticated, Code: codes.Unauthenticated, Reason: apierror.Unauthenticated, Message: UnauthenticatedMessage},
	{Match: auth.ErrMissingScope, Code: codes.PermissionDenied, Reason: apierror.MissingScope},
	{Match: auth.ErrSessionRequired, Code: codes.PermissionDenied, Reason: apierror.SessionRequired},
	{Match: account.ErrInvalid, Code: codes.InvalidArgument, Reason: apierror.InvalidRegistration},
	{Match: account.ErrEmailTaken, Code: codes.AlreadyExists, Reason: apierror.EmailTaken},
	{Match: account.ErrRegistrationClosed, Code: codes.PermissionDenied, Reason: apierror.RegistrationClosed},
	{Match: account.ErrBadCredentials, Code: codes.Unauthenticated, Reason: apierror.BadCredentials},
	{Match: account.ErrWrongPassword, Code: codes.PermissionDenied, Reason: apierror.WrongPassword},
	{Match: apikeys.ErrInvalid, Code: codes.InvalidArgument, Reason: apierror.InvalidKeyRequest},
	{Match: apikeys.ErrNotFound, Code: codes.NotFound, Reason: apierror.KeyNotFound},
	{Match: apikeys.ErrTooMany, Code: codes.FailedPrecondition, Reason: apierror.TooManyKeys},
	{Match: idempotency.ErrInvalidKey, Code: codes.InvalidArgument, Reason: apierror.InvalidIdempotencyKey},
	{Match: idempotency.ErrReused, Code: codes.FailedPrecondition, Reason: apierror.IdempotencyKeyReused},
	{Match: idempotency.ErrInProgress, Code: codes.Aborted, Reason: apierror.IdempotencyKeyInUse},
	{Match: throttle.ErrThrottled, Code: codes.ResourceExhausted, Reason: apierror.RateLimited},
	{Match: ratelimit.ErrLimited, Code: codes.ResourceExhausted, Reason: apierror.RateLimited},
	{Match: admission.ErrBusy, Code: codes.ResourceExhausted, Reason: apierror.RateLimited},
	{Match: credits.ErrExhausted, Code: codes.ResourceExhausted, Reason: apierror.CreditsExhausted},
	// A database that cannot be reached: nothing was charged or written,
	// and the caller may retry (503).
	{Match: store.ErrUnavailable, Code: codes.Unavailable, Reason: apierror.Unavailable, Message: "the service cannot reach its database; nothing was charged; retry in a few seconds"},
	{Match: context.DeadlineExceeded, Code: codes.DeadlineExceeded, Reason: apierror.DeadlineExceeded, Message: "the request did not finish before its deadline"},
	{Match: context.Canceled, Code: codes.Canceled, Reason: apierror.Cancelled, Message: "the request was cancelled"},
}
