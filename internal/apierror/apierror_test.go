package apierror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/admission"
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
		reason Reason
	}{
		{fmt.Errorf("%w: x", ErrInvalidRequest), codes.InvalidArgument, InvalidRequest},
		{fmt.Errorf("%w: x", engine.ErrInvalidOption), codes.InvalidArgument, InvalidOption},
		{fmt.Errorf("%w: x", engine.ErrUnsupportedFormat), codes.InvalidArgument, UnsupportedImage},
		{fmt.Errorf("%w: x", engine.ErrInvalidImage), codes.InvalidArgument, InvalidImage},
		{fmt.Errorf("%w: x", engine.ErrTooLarge), codes.InvalidArgument, ImageTooLarge},
		{fetch.ErrRefused, codes.InvalidArgument, SourceRefused},
		{fetch.ErrTooLarge, codes.InvalidArgument, SourceTooLarge},
		{fetch.ErrNotImage, codes.InvalidArgument, UnsupportedImage},
		{fmt.Errorf("%w: 404", fetch.ErrUnreachable), codes.FailedPrecondition, SourceUnreachable},
		{fmt.Errorf("%w: expired", auth.ErrUnauthenticated), codes.Unauthenticated, Unauthenticated},
		{&auth.ScopeError{Scope: "images:upscale"}, codes.PermissionDenied, MissingScope},
		{auth.ErrSessionRequired, codes.PermissionDenied, SessionRequired},
		{fmt.Errorf("%w: x", account.ErrInvalid), codes.InvalidArgument, InvalidRegistration},
		{account.ErrEmailTaken, codes.AlreadyExists, EmailTaken},
		{account.ErrRegistrationClosed, codes.PermissionDenied, RegistrationClosed},
		{account.ErrBadCredentials, codes.Unauthenticated, BadCredentials},
		{account.ErrWrongPassword, codes.PermissionDenied, WrongPassword},
		{fmt.Errorf("%w: x", apikeys.ErrInvalid), codes.InvalidArgument, InvalidKeyRequest},
		{apikeys.ErrNotFound, codes.NotFound, KeyNotFound},
		{apikeys.ErrTooMany, codes.FailedPrecondition, TooManyKeys},
		{idempotency.ErrInvalidKey, codes.InvalidArgument, InvalidIdempotencyKey},
		{idempotency.ErrReused, codes.FailedPrecondition, IdempotencyKeyReused},
		{idempotency.ErrInProgress, codes.Aborted, IdempotencyKeyInUse},
		{&throttle.Error{What: "sign-ins", RetryAfter: time.Minute}, codes.ResourceExhausted, RateLimited},
		{&ratelimit.LimitedError{Limit: 60, Per: "key", Plan: "free", RetryAfter: time.Second}, codes.ResourceExhausted, RateLimited},
		{&admission.BusyError{Workers: 2, Queue: 8}, codes.ResourceExhausted, RateLimited},
		{&credits.ExhaustedError{Needed: 1, RenewTime: time.Now()}, codes.ResourceExhausted, CreditsExhausted},
		{fmt.Errorf("storesqlite: reserve: %w", context.DeadlineExceeded), codes.DeadlineExceeded, DeadlineExceeded},
		{context.Canceled, codes.Canceled, Cancelled},
	}
	for _, tt := range tests {
		t.Run(string(tt.reason), func(t *testing.T) {
			t.Parallel()
			st, known := Status(tt.err)
			require.True(t, known)
			require.Equal(t, tt.code, st.Code())
			require.Equal(t, tt.reason, ReasonOf(st))
			require.NotContains(t, st.Message(), "context deadline", "callers see our words")
			require.NotContains(t, st.Message(), "auth:", "callers see our words")
		})
	}
	_, known := Status(errors.New("disk on fire at /var/lib/x"))
	require.False(t, known, "an error the table does not know is internal")
}

func TestUnauthenticatedHasOneMessage(t *testing.T) {
	t.Parallel()
	for _, why := range []string{"expired", "revoked", "bad checksum"} {
		st, _ := Status(fmt.Errorf("%w: %s", auth.ErrUnauthenticated, why))
		require.Equal(t, UnauthenticatedMessage, st.Message())
	}
}

func TestRetryAndParamDetails(t *testing.T) {
	t.Parallel()
	st, _ := Status(&admission.BusyError{Workers: 2, Queue: 8})
	require.Contains(t, st.Message(), "all 2 image workers are taken")
	require.Equal(t, time.Second, RetryOf(st), "a busy answer tells the caller when to come back")
	require.Empty(t, FieldOf(st))

	st, _ = Status(Paramf("outputFormat", engine.ErrInvalidOption, "outputFormat %q is not one of png, jpeg, webp", "gif"))
	require.Equal(t, "outputFormat", FieldOf(st))
	require.Equal(t, InvalidOption, ReasonOf(st))
	require.Zero(t, RetryOf(st))

	st = InternalStatus("rid123")
	require.Equal(t, codes.Internal, st.Code())
	require.Equal(t, "internal error (request id rid123)", st.Message())
	require.Equal(t, Internal, ReasonOf(st))
}

func TestReasonsAreUpperSnakeAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		require.False(t, seen[r], "%s listed twice", r)
		seen[r] = true
		require.Equal(t, strings.ToUpper(string(r)), string(r))
		require.NotContains(t, string(r), " ")
	}
	for _, row := range table {
		require.True(t, seen[row.reason], "%s is in the table but not in Reasons", row.reason)
	}
}
