package apiv1

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	"github.com/smartimage/enhance/internal/throttle"
)

// TestStatusTable checks the table row by row, with each domain error
// wrapped as the code that returns it wraps it.
func TestStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		code   codes.Code
		reason apierror.Reason
	}{
		{fmt.Errorf("%w: x", apierror.ErrInvalidRequest), codes.InvalidArgument, apierror.InvalidRequest},
		{fmt.Errorf("%w: x", engine.ErrInvalidOption), codes.InvalidArgument, apierror.InvalidOption},
		{fmt.Errorf("%w: x", engine.ErrUnsupportedFormat), codes.InvalidArgument, apierror.UnsupportedImage},
		{fmt.Errorf("%w: x", engine.ErrInvalidImage), codes.InvalidArgument, apierror.InvalidImage},
		{fmt.Errorf("%w: x", engine.ErrTooLarge), codes.InvalidArgument, apierror.ImageTooLarge},
		{fetch.ErrRefused, codes.InvalidArgument, apierror.SourceRefused},
		{fetch.ErrTooLarge, codes.InvalidArgument, apierror.SourceTooLarge},
		{fetch.ErrNotImage, codes.InvalidArgument, apierror.UnsupportedImage},
		{fmt.Errorf("%w: 404", fetch.ErrUnreachable), codes.FailedPrecondition, apierror.SourceUnreachable},
		{fmt.Errorf("%w: expired", auth.ErrUnauthenticated), codes.Unauthenticated, apierror.Unauthenticated},
		{&auth.ScopeError{Scope: "images:upscale"}, codes.PermissionDenied, apierror.MissingScope},
		{auth.ErrSessionRequired, codes.PermissionDenied, apierror.SessionRequired},
		{fmt.Errorf("%w: x", account.ErrInvalid), codes.InvalidArgument, apierror.InvalidRegistration},
		{account.ErrEmailTaken, codes.AlreadyExists, apierror.EmailTaken},
		{account.ErrRegistrationClosed, codes.PermissionDenied, apierror.RegistrationClosed},
		{account.ErrBadCredentials, codes.Unauthenticated, apierror.BadCredentials},
		{account.ErrWrongPassword, codes.PermissionDenied, apierror.WrongPassword},
		{fmt.Errorf("%w: x", apikeys.ErrInvalid), codes.InvalidArgument, apierror.InvalidKeyRequest},
		{apikeys.ErrNotFound, codes.NotFound, apierror.KeyNotFound},
		{apikeys.ErrTooMany, codes.FailedPrecondition, apierror.TooManyKeys},
		{idempotency.ErrInvalidKey, codes.InvalidArgument, apierror.InvalidIdempotencyKey},
		{idempotency.ErrReused, codes.FailedPrecondition, apierror.IdempotencyKeyReused},
		{idempotency.ErrInProgress, codes.Aborted, apierror.IdempotencyKeyInUse},
		{&throttle.Error{What: "sign-ins", RetryAfter: time.Minute}, codes.ResourceExhausted, apierror.RateLimited},
		{&ratelimit.LimitedError{Limit: 60, Per: "key", Plan: "free", RetryAfter: time.Second}, codes.ResourceExhausted, apierror.RateLimited},
		{&admission.BusyError{Workers: 2, Queue: 8}, codes.ResourceExhausted, apierror.RateLimited},
		{&credits.ExhaustedError{Needed: 1, RenewTime: time.Now()}, codes.ResourceExhausted, apierror.CreditsExhausted},
		{fmt.Errorf("storesqlite: reserve: %w", context.DeadlineExceeded), codes.DeadlineExceeded, apierror.DeadlineExceeded},
		{context.Canceled, codes.Canceled, apierror.Cancelled},
	}
	for _, tt := range tests {
		t.Run(string(tt.reason), func(t *testing.T) {
			t.Parallel()
			st, known := Errors.Status(tt.err)
			require.True(t, known)
			require.Equal(t, tt.code, st.Code())
			require.Equal(t, tt.reason, apierror.ReasonOf(st))
			require.NotContains(t, st.Message(), "context deadline", "callers see our words")
			require.NotContains(t, st.Message(), "auth:", "callers see our words")
		})
	}
	_, known := Errors.Status(errors.New("disk on fire at /var/lib/x"))
	require.False(t, known, "an error the table does not know is internal")
}

func TestUnauthenticatedHasOneMessage(t *testing.T) {
	t.Parallel()
	for _, why := range []string{"expired", "revoked", "bad checksum"} {
		st, _ := Errors.Status(fmt.Errorf("%w: %s", auth.ErrUnauthenticated, why))
		require.Equal(t, UnauthenticatedMessage, st.Message())
	}
}

func TestErrorsUseOnlyPublishedReasons(t *testing.T) {
	t.Parallel()
	published := map[apierror.Reason]bool{}
	for _, r := range apierror.Reasons {
		published[r] = true
	}
	for _, row := range Errors {
		require.True(t, published[row.Reason], "%s is in the table but not in apierror.Reasons", row.Reason)
	}
}
