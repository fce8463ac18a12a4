package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/telemetry"
)

// record is what the interceptors and the handler learn about one call
// for its access line: the access interceptor (step 2) puts it in the
// context, and those inside, which see the caller and the work, fill it.
type record struct {
	mu                          sync.Mutex
	accountID, keyID, plan      string
	credits                     int
	stages                      []slog.Attr
	sourceBytes, sourcePixels   int
	requestBytes, responseBytes int
}

type recordKey struct{}

func recordFrom(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

func (r *record) principal(p auth.Principal) {
	r.mu.Lock()
	r.accountID, r.keyID, r.plan = p.AccountID, p.KeyID, p.Plan
	r.mu.Unlock()
}

// attempted names the key id of a refused credential (auth.IDHint: never
// secret material).
func (r *record) attempted(keyID string) {
	r.mu.Lock()
	r.keyID = keyID
	r.mu.Unlock()
}

func (r *record) charged(amount int) {
	r.mu.Lock()
	r.credits = amount
	r.mu.Unlock()
}

// stage adds d to the time spent in stage (a colorize call fetches twice).
func (r *record) stage(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, a := range r.stages {
		if a.Key == name {
			r.stages[i].Value = slog.DurationValue(a.Value.Duration() + d)
			return
		}
	}
	r.stages = append(r.stages, slog.Duration(name, d))
}

func (r *record) source(bytes, pixels int) {
	r.mu.Lock()
	r.sourceBytes, r.sourcePixels = bytes, pixels
	r.mu.Unlock()
}

func (r *record) sent(msg any) {
	n := messageSize(msg)
	r.mu.Lock()
	r.responseBytes += n
	r.mu.Unlock()
}

func (r *record) received(msg any) {
	n := messageSize(msg)
	r.mu.Lock()
	r.requestBytes += n
	r.mu.Unlock()
}

func messageSize(msg any) int {
	if m, ok := msg.(proto.Message); ok {
		return proto.Size(m)
	}
	return 0
}

// accessLog writes one line per finished call and counts it in
// enhance_requests_total. It runs outside the error interceptor, so it
// sees the code the caller got; the rest it reads from the call's record.
type accessLog struct {
	log     *slog.Logger
	metrics *Metrics
}

func (a accessLog) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		r := &record{}
		r.received(req)
		resp, err := handler(context.WithValue(ctx, recordKey{}, r), req)
		if err == nil {
			r.sent(resp)
		}
		a.finish(ctx, info.FullMethod, "unary", r, start, err)
		return resp, err
	}
}

func (a accessLog) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		r := &record{}
		wrapped := middleware.WrapServerStream(ss)
		wrapped.WrappedContext = context.WithValue(ss.Context(), recordKey{}, r)
		err := handler(srv, &countingStream{WrappedServerStream: wrapped, record: r})
		a.finish(ss.Context(), info.FullMethod, "stream", r, start, err)
		return err
	}
}

// countingStream adds up the sizes of a stream's messages.
type countingStream struct {
	*middleware.WrappedServerStream
	record *record
}

func (s *countingStream) SendMsg(m any) error {
	err := s.WrappedServerStream.SendMsg(m)
	if err == nil {
		s.record.sent(m)
	}
	return err
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.WrappedServerStream.RecvMsg(m)
	if err == nil {
		s.record.received(m)
	}
	return err
}

// finish logs the access line: request id, trace id (with tracing on),
// method, code, caller (account and key id, never the key), credits
// charged, duration, the stages that ran and the message sizes.
func (a accessLog) finish(ctx context.Context, fullMethod, kind string, r *record, start time.Time, err error) {
	d := time.Since(start)
	code := status.Code(err)
	method := methodLabel(fullMethod)
	r.mu.Lock()
	defer r.mu.Unlock()
	a.metrics.request(method, code.String(), r.plan)
	attrs := []slog.Attr{
		slog.String("request_id", requestid.From(ctx)),
	}
	if id := telemetry.TraceID(ctx); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	attrs = append(attrs,
		slog.String("method", method),
		slog.String("kind", kind),
		slog.String("code", code.String()),
		slog.Duration("duration", d),
		slog.String("client", clientaddr.From(ctx)),
	)
	if r.accountID != "" {
		attrs = append(attrs, slog.String("account_id", r.accountID))
	}
	if r.keyID != "" {
		attrs = append(attrs, slog.String("key_id", r.keyID))
	}
	if r.plan != "" {
		attrs = append(attrs, slog.String("plan", r.plan))
	}
	attrs = append(attrs, slog.Int("credits", r.credits))
	if len(r.stages) > 0 {
		attrs = append(attrs, slog.Attr{Key: "stages", Value: slog.GroupValue(r.stages...)})
	}
	if r.sourceBytes > 0 {
		attrs = append(attrs, slog.Int("source_bytes", r.sourceBytes), slog.Int("source_pixels", r.sourcePixels))
	}
	attrs = append(attrs, slog.Int("request_bytes", r.requestBytes), slog.Int("response_bytes", r.responseBytes))
	level := slog.Level(logging.DefaultServerCodeToLevel(code))
	a.log.LogAttrs(ctx, level, "access", attrs...)
}
