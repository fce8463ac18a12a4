package server

import (
	"context"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/requestid"
)

// withRequestID keeps the caller's id when it is well-formed (both doors
// follow requestid.Valid; the gateway forwards the REST caller's, or the
// one it made), makes one otherwise, puts it in the context and returns it
// in the response header.
func withRequestID(ctx context.Context) context.Context {
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
	return ctx
}

// withCaller is withRequestID plus the caller's address (clientaddr):
// the TCP peer, or the gateway's client when the gateway proves itself.
func withCaller(ctx context.Context, proof clientaddr.Proof) context.Context {
	ctx = withRequestID(ctx)
	return clientaddr.With(ctx, clientaddr.Resolve(ctx, proof))
}

func callerUnary(proof clientaddr.Proof) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(withCaller(ctx, proof), req)
	}
}

func callerStream(proof clientaddr.Proof) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		wrapped := middleware.WrapServerStream(ss)
		wrapped.WrappedContext = withCaller(ss.Context(), proof)
		return handler(srv, wrapped)
	}
}
