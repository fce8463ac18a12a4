package gateway

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/telemetry"
)

// upstream is the connection to the gRPC server as the gateway's routes
// (generated and raw uploads alike) use it. Each call carries the REST
// request's trace (a client span, with tracing on), and is noted on the
// REST call's exchange when the gRPC server answered it, and so wrote its
// access line; the front handler writes one for every call that did not
// get that far.
type upstream struct {
	conn    grpc.ClientConnInterface
	tracing *telemetry.Tracing
}

// Invoke implements grpc.ClientConnInterface.
func (u upstream) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	ctx, end := u.tracing.Client(ctx, method)
	var header metadata.MD
	err := u.conn.Invoke(ctx, method, args, reply, append(opts, grpc.Header(&header))...)
	end(err)
	markServed(ctx, header)
	return err
}

// NewStream implements grpc.ClientConnInterface. The client span covers
// the opening of the stream: what follows is the server's to trace.
func (u upstream) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, end := u.tracing.Client(ctx, method)
	s, err := u.conn.NewStream(ctx, desc, method, opts...)
	end(err)
	if err == nil {
		if ex := exchangeFrom(ctx); ex != nil {
			// The server answers from here on, whatever comes of it.
			ex.served.Store(true)
		}
	}
	return s, err
}

// markServed notes that the gRPC server handled the call of ctx: its
// answer, an error included, carries the request id the server's first
// interceptor sets. A call that never reached it (no connection, a
// request over the client's size limit) has none.
func markServed(ctx context.Context, header metadata.MD) {
	if ex := exchangeFrom(ctx); ex != nil && len(header.Get(requestid.Header)) > 0 {
		ex.served.Store(true)
	}
}

// exchange is what the front handler learns about one REST call from the
// layers under it.
type exchange struct {
	// served: the gRPC server answered, and logged, the call.
	served atomic.Bool
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}
