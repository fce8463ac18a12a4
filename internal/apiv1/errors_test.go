package apiv1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/admission"
	"github.com/smartimage/enhance/internal/engine"
	"github.com/smartimage/enhance/internal/fetch"
	"github.com/smartimage/enhance/internal/requestid"
)

func TestToStatusTable(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{fmt.Errorf("%w: x", errInvalidRequest), codes.InvalidArgument, "INVALID_REQUEST"},
		{fmt.Errorf("%w: x", engine.ErrInvalidOption), codes.InvalidArgument, "INVALID_OPTION"},
		{fmt.Errorf("%w: x", engine.ErrUnsupportedFormat), codes.InvalidArgument, "UNSUPPORTED_IMAGE"},
		{fmt.Errorf("%w: x", engine.ErrInvalidImage), codes.InvalidArgument, "INVALID_IMAGE"},
		{fmt.Errorf("%w: x", engine.ErrTooLarge), codes.InvalidArgument, "IMAGE_TOO_LARGE"},
		{fetch.ErrRefused, codes.InvalidArgument, "SOURCE_REFUSED"},
		{fetch.ErrTooLarge, codes.InvalidArgument, "SOURCE_TOO_LARGE"},
		{fetch.ErrNotImage, codes.InvalidArgument, "UNSUPPORTED_IMAGE"},
		{fmt.Errorf("%w: 404", fetch.ErrUnreachable), codes.FailedPrecondition, "SOURCE_UNREACHABLE"},
		{fmt.Errorf("%w: x", account.ErrInvalid), codes.InvalidArgument, "INVALID_REGISTRATION"},
		{account.ErrEmailTaken, codes.AlreadyExists, "EMAIL_TAKEN"},
		{&admission.BusyError{Workers: 2, Queue: 8}, codes.ResourceExhausted, "RATE_LIMITED"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
		{context.Canceled, codes.Canceled, "CANCELLED"},
		{errors.New("disk on fire at /var/lib/x"), codes.Internal, "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			t.Parallel()
			ctx := requestid.With(context.Background(), "rid123")
			st := status.Convert(toStatus(ctx, log, tt.err))
			require.Equal(t, tt.code, st.Code())
			var info *errdetails.ErrorInfo
			for _, d := range st.Details() {
				if i, ok := d.(*errdetails.ErrorInfo); ok {
					info = i
				}
			}
			require.NotNil(t, info)
			require.Equal(t, tt.reason, info.GetReason())
			require.Equal(t, ErrorDomain, info.GetDomain())
			if tt.code == codes.Internal {
				require.Equal(t, "internal error (request id rid123)", st.Message())
			}
			require.False(t, strings.Contains(st.Message(), "context deadline"), "callers see our words")
		})
	}
}

func TestBusyCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := status.Convert(toStatus(context.Background(), log, &admission.BusyError{Workers: 2, Queue: 8}))
	require.Contains(t, st.Message(), "all 2 image workers are taken")
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	require.NotNil(t, retry, "a busy answer tells the caller when to come back")
	require.Equal(t, int64(1), retry.GetRetryDelay().GetSeconds())
}
