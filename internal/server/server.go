// Package server builds the gRPC server: TLS, message limits, and the
// ordered interceptor chain that guards every method, whichever door
// (gRPC or the REST gateway) the call came through.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/ratelimit"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/throttle"
)

// Config is what the gRPC server needs.
type Config struct {
	TLS *tls.Config
	// MaxRecvBytes bounds a request message (an inline image plus options).
	MaxRecvBytes int
	// MaxSendBytes bounds a response message (an encoded output image).
	MaxSendBytes int
	// RequestTimeout caps every call's deadline, whatever the client asked.
	RequestTimeout time.Duration
	// Access says what each method asks of its caller.
	Access map[string]apiv1.Access
	// RateLimiter limits API-key calls (ratelimit.Local when nil).
	RateLimiter ratelimit.Limiter
	// AbandonAfter is longer than any request runs (RequestTimeout plus a
	// margin when zero): a call still marked running after it died.
	AbandonAfter time.Duration
}

// New returns a gRPC server with the interceptor chain installed; the
// caller registers services on it.
func New(cfg Config, verifier *auth.Verifier, db store.Store, ledger *credits.Ledger, metrics *grpcprom.ServerMetrics, log *slog.Logger) (*grpc.Server, error) {
	if cfg.TLS == nil || verifier == nil || db == nil || ledger == nil || metrics == nil || log == nil {
		return nil, errors.New("server: TLS config, verifier, store, ledger, metrics and logger are required")
	}
	if cfg.MaxRecvBytes <= 0 || cfg.MaxSendBytes <= 0 || cfg.RequestTimeout <= 0 {
		return nil, errors.New("server: message limits and request timeout must be positive")
	}
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = ratelimit.NewLocal(nil)
	}
	if cfg.AbandonAfter == 0 {
		cfg.AbandonAfter = cfg.RequestTimeout + time.Minute
	}
	idem := &idempotency{store: db, access: cfg.Access, abandonAfter: cfg.AbandonAfter, log: log}
	authn := &authenticator{
		verifier: verifier, store: db, access: cfg.Access, log: log,
		failures: throttle.New(authFailuresPerMinute, time.Minute, authFailureBlock, nil),
	}
	needsKey := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return !cfg.Access[c.FullMethod()].Public && !isInfrastructure(c.Service)
	})
	return grpc.NewServer(
		grpc.Creds(credentials.NewTLS(cfg.TLS)),
		grpc.MaxRecvMsgSize(cfg.MaxRecvBytes),
		grpc.MaxSendMsgSize(cfg.MaxSendBytes),
		// A client pinging more often than every 10 s is cut off; idle
		// connections are closed after 5 minutes and dead ones found by
		// our own pings, so abandoned connections do not pile up.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 5 * time.Minute,
			Time:              time.Minute,
			Timeout:           20 * time.Second,
		}),
		// Streams per connection, header bytes and TLS handshake time are
		// bounded, so one connection cannot hold unbounded work or memory.
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.MaxHeaderListSize(MaxHeaderBytes),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.ChainUnaryInterceptor(
			// 1. Every call gets a request id first, so everything after can log it.
			requestIDUnary,
			// 2. One log line per call, with code, duration and request id.
			logging.UnaryServerInterceptor(slogAdapter(log),
				logging.WithLogOnEvents(logging.FinishCall),
				logging.WithFieldsFromContext(func(ctx context.Context) logging.Fields {
					return logging.Fields{"request_id", requestid.From(ctx)}
				})),
			// 3. A panic below becomes INTERNAL "internal error" with the
			//    request id; the stack goes to the log only.
			recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
				id := requestid.From(ctx)
				log.ErrorContext(ctx, "panic", "request_id", id, "panic", p, "stack", string(debug.Stack()))
				return apiv1.WithReason(codes.Internal, "internal error (request id "+id+")", "INTERNAL")
			})),
			// 4. Per-method request counts and latencies.
			metrics.UnaryServerInterceptor(),
			// 5. No call runs longer than the server allows.
			deadlineUnary(cfg.RequestTimeout),
			// 6. API key or session, then what the method needs of it.
			selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(authn.authenticate), needsKey),
			// 7. Rate limits per key and per account, before any work.
			rateLimitUnary(cfg.RateLimiter),
			// 8. A retry with an Idempotency-Key gets the first result,
			//    before credits, so it is not charged again.
			idem.unary,
			// 9. Credits: after auth, so that it knows the account; the
			//    handler prices the work after validating it, so a
			//    rejected request costs nothing.
			quotaUnary(ledger, log),
		),
	), nil
}

// MaxConcurrentStreams bounds the calls one HTTP/2 connection (gRPC or
// the REST listener) may have open at once.
const MaxConcurrentStreams = 100

// MaxHeaderBytes bounds a request's headers (gRPC metadata, or HTTP
// headers on the REST listener).
const MaxHeaderBytes = 64 << 10

// isInfrastructure reports services that are public by nature: health
// checks and reflection.
func isInfrastructure(service string) bool {
	return service == "grpc.health.v1.Health" ||
		service == "grpc.reflection.v1.ServerReflection" ||
		service == "grpc.reflection.v1alpha.ServerReflection"
}

func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
