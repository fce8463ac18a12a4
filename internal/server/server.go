// Package server builds the gRPC server: TLS, message limits, and the
// ordered interceptor chain that guards every method, whichever door
// (gRPC or the REST gateway) the call came through.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"

	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/ratelimit"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
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
	Access access.Table
	// Errors turns the domain errors that handlers and interceptors
	// return into statuses (apiv1.Errors).
	Errors apierror.Table
	// RateLimiter limits API-key calls (ratelimit.Local when nil).
	RateLimiter ratelimit.Limiter
	// GatewayProof is the secret the in-process gateway shows, so that
	// its word on who its client is is believed; from any other caller,
	// only the TCP peer counts.
	GatewayProof clientaddr.Proof
	// Instance names this server process on the idempotent calls it runs,
	// so that their keys are freed at once if it dies.
	Instance string
	// AbandonAfter is longer than any request runs (RequestTimeout plus a
	// margin when zero): a call still marked running after it died.
	AbandonAfter time.Duration
	// Metrics are the service's own collectors (requests by plan, credits,
	// authentication failures); none are kept when nil.
	Metrics *Metrics
	// StatsHandler, when set, sees every call before the interceptors:
	// tracing's server spans (telemetry.Tracing.ServerHandler).
	StatsHandler stats.Handler
}

// Store is the part of the database the interceptors use: keys (to name a
// failed attempt's owner), the audit log, and idempotent calls.
type Store interface {
	authStore
	store.Idempotency
}

// authStore is what the authenticator writes and reads.
type authStore interface {
	store.Keys
	store.Audit
	store.Throttles
}

// New returns a gRPC server with the interceptor chain installed; the
// caller registers services on it.
func New(cfg Config, verifier *auth.Verifier, db Store, ledger *credits.Ledger, metrics *grpcprom.ServerMetrics, log *slog.Logger) (*grpc.Server, error) {
	if cfg.TLS == nil || verifier == nil || db == nil || ledger == nil || metrics == nil || log == nil {
		return nil, errors.New("server: TLS config, verifier, store, ledger, metrics and logger are required")
	}
	if cfg.Access == nil || cfg.Errors == nil {
		return nil, errors.New("server: the access and error tables are required")
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
	idem := &idempotent{store: db, access: cfg.Access, abandonAfter: cfg.AbandonAfter, instance: cfg.Instance, log: log}
	authn, err := newAuthenticator(verifier, db, cfg.Access, log)
	if err != nil {
		return nil, err
	}
	authn.metrics = cfg.Metrics
	needsKey := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		rule, _ := cfg.Access.Lookup(c.FullMethod())
		return !rule.Public && !isInfrastructure(c.Service)
	})
	// Health watches and reflection streams are infrastructure: a client
	// may hold a watch open for as long as it likes.
	isAPI := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return !isInfrastructure(c.Service)
	})
	access := accessLog{log: log, metrics: cfg.Metrics}
	// The outer recovery is the last resort for a panic in an interceptor:
	// it answers INTERNAL itself. The inner one, around the handler, turns
	// a handler's panic into an error the chain handles like any other.
	outerRecovery := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		_ = recovered(ctx, log, p)
		return apierror.InternalStatus(requestid.From(ctx)).Err()
	})
	innerRecovery := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		return recovered(ctx, log, p)
	})
	// 7-11: what a call must pass to reach its method, the same for a
	// unary call and a streaming one (guardStream).
	guards := chainUnary(
		// 7. API key or session, then what the method needs of it.
		selector.UnaryServerInterceptor(grpcauth.UnaryServerInterceptor(authn.authenticate), needsKey),
		// 8. Rate limits per key and per account, before any work.
		rateLimitUnary(cfg.RateLimiter, cfg.Access),
		// 9. A retry with an Idempotency-Key gets the first result,
		//    before credits, so it is not charged again.
		idem.unary,
		// 10. Credits: after auth, so that it knows the account; the
		//     handler prices the work after validating it, so a
		//     rejected request costs nothing.
		quotaUnary(ledger, log, cfg.Metrics),
		// 11. A handler's panic becomes an error here, so the charge is
		//     refunded, the Idempotency-Key released and the call
		//     counted on its way out.
		recovery.UnaryServerInterceptor(innerRecovery),
	)
	var extra []grpc.ServerOption
	if cfg.StatsHandler != nil {
		extra = append(extra, grpc.StatsHandler(cfg.StatsHandler))
	}
	return grpc.NewServer(append(extra,
		grpc.Creds(credentials.NewTLS(cfg.TLS)),
		grpc.MaxRecvMsgSize(cfg.MaxRecvBytes),
		grpc.MaxSendMsgSize(cfg.MaxSendBytes),
		// Requests are counted before they are decoded (see codec.go).
		grpc.ForceServerCodecV2(newBoundedCodec()),
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
			// 1. Every call gets a request id first, so everything after can
			//    log it, and its caller's address (the peer, or the
			//    gateway's client when the gateway proves itself).
			callerUnary(cfg.GatewayProof),
			// 2. One access line per call (request id, caller, code,
			//    credits, durations, sizes), and the call counted by
			//    plan; what it learns inside, it reads from the call's
			//    record (access.go).
			access.unary(),
			// 3. Per-method request counts and latencies, by final code.
			metrics.UnaryServerInterceptor(),
			// 4. A panic in an interceptor below becomes INTERNAL with
			//    the request id; the stack goes to the log only.
			recovery.UnaryServerInterceptor(outerRecovery),
			// 5. The one place errors become statuses: domain errors by
			//    cfg.Errors, anything else INTERNAL with the cause in the
			//    log only.
			errorsUnary(log, cfg.Errors),
			// 6. No call runs longer than the server allows.
			deadlineUnary(cfg.RequestTimeout),
			// 7-11. Authentication, rate limits, Idempotency-Key,
			//       credits, the handler's panics (guards, above).
			guards,
		),
		// Streams get the same order: steps 1-6 in their stream form
		// (the deadline covers the sending too), then the API's
		// server-streaming methods (EnhanceStream ...) pass the very
		// same guards, their answer held back until the guards are done
		// (stream.go). Health watches and reflection pass through.
		grpc.ChainStreamInterceptor(
			callerStream(cfg.GatewayProof),
			access.stream(),
			metrics.StreamServerInterceptor(),
			recovery.StreamServerInterceptor(outerRecovery),
			errorsStream(log, cfg.Errors),
			selector.StreamServerInterceptor(deadlineStream(cfg.RequestTimeout), isAPI),
			guardStream(guards),
		),
	)...), nil
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

// CheckAccess fails when a method registered on s, health and reflection
// aside, has no rule in t: such a method would be refused at every call,
// and the author meant to decide who may call it.
func CheckAccess(s *grpc.Server, t access.Table) error {
	services := map[string][]string{}
	for name, info := range s.GetServiceInfo() {
		if isInfrastructure(name) {
			continue
		}
		for _, m := range info.Methods {
			services[name] = append(services[name], m.Name)
		}
	}
	return t.Covers(services)
}
