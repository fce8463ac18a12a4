package server

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/requestid"
)

// requestIDUnary takes the request id the gateway made (or makes one for
// a direct gRPC call), puts it in the context and returns it in the
// response header.
func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(requestid.Header); len(v) == 1 && requestid.Valid(v[0]) {
			id = v[0]
		}
	}
	if id == "" {
		id = requestid.New()
	}
	ctx = requestid.With(ctx, id)
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestid.Header, id))
	return handler(ctx, req)
}
