package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/requestid"
)

// errPanic is what a recovered panic becomes inside the chain, so that
// the interceptors between the handler and the error interceptor (quota,
// idempotency, metrics) see an ordinary failure: the charge is refunded,
// the Idempotency-Key released, the call counted.
var errPanic = errors.New("panic")

// statusOf is the status err gives the caller. A status made by the chain
// itself (apierror.New) or by gRPC's own services passes as it is; a
// domain error goes through the table; anything else is internal: its
// cause goes to the log, and the caller gets only the request id.
func statusOf(ctx context.Context, log *slog.Logger, table apierror.Table, err error) error {
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	if st, known := table.Status(err); known {
		return st.Err()
	}
	id := requestid.From(ctx)
	log.ErrorContext(ctx, "internal error", "request_id", id, "err", err)
	return apierror.InternalStatus(id).Err()
}

// errorsUnary is the one place a call's error becomes a status.
func errorsUnary(log *slog.Logger, table apierror.Table) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return nil, statusOf(ctx, log, table, err)
		}
		return resp, nil
	}
}

func errorsStream(log *slog.Logger, table apierror.Table) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := handler(srv, ss); err != nil {
			return statusOf(ss.Context(), log, table, err)
		}
		return nil
	}
}

// recovered logs a panic with its stack and returns it as errPanic, for
// the interceptors outside to treat as any failure.
func recovered(ctx context.Context, log *slog.Logger, p any) error {
	log.ErrorContext(ctx, "panic", "request_id", requestid.From(ctx), "panic", p, "stack", string(debug.Stack()))
	return fmt.Errorf("%w: %v", errPanic, p)
}
