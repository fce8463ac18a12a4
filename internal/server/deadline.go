package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
)

// deadlineUnary caps a call's deadline at max: a client (or a REST
// caller's Grpc-Timeout header) may ask for less, never for more.
func deadlineUnary(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, max)
		defer cancel()
		return handler(ctx, req)
	}
}
