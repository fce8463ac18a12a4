// Package gateway serves the REST API: a grpc-gateway mux that dials the
// gRPC server (so every call passes the same interceptors), behind a small
// front handler that assigns request ids, bounds bodies, accepts raw image
// uploads, serves health and the OpenAPI document, and writes every error
// as JSON.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/telemetry"
)

// Config is what the gateway needs.
type Config struct {
	// Conn is a client connection to the gRPC server.
	Conn *grpc.ClientConn
	// MaxImageBytes bounds a raw image upload; a JSON body may be a third
	// larger, for base64.
	MaxImageBytes int64
	// Ready reports whether the service can take traffic (for /readyz).
	Ready func(context.Context) error
	// OpenAPI is the document served at /openapi.json.
	OpenAPI []byte
	// Proof is shown to the gRPC server with every call, so that it
	// believes the gateway's word on who the client is.
	Proof clientaddr.Proof
	// Dashboard serves the developer dashboard's pages under /dashboard/
	// (package dashboard); none are served when nil.
	Dashboard Pages
	// Tracing carries each request's trace into the gRPC calls it makes;
	// nil is off.
	Tracing *telemetry.Tracing
	// Answered, when set, counts each call the gateway answered without
	// the gRPC server, by HTTP status and error code ("" on success).
	Answered func(status int, code string)
}

// Pages serves static pages: Serve reports false, having written
// nothing, for a path it has no page for.
type Pages interface {
	Serve(w http.ResponseWriter, r *http.Request) bool
}

// Gateway is the REST front door.
type Gateway struct {
	cfg    Config
	mux    *runtime.ServeMux
	images enhancev1.ImageServiceClient
	log    *slog.Logger
}

// New returns the gateway as an http.Handler.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Gateway, error) {
	if cfg.Conn == nil || cfg.Ready == nil || log == nil || cfg.MaxImageBytes <= 0 {
		return nil, errors.New("gateway: connection, readiness check, logger and byte limit are required")
	}
	// Every route calls the server through upstream, which tells the
	// front handler whether the server answered (and logged) the call.
	up := upstream{conn: cfg.Conn, tracing: cfg.Tracing}
	g := &Gateway{cfg: cfg, images: enhancev1.NewImageServiceClient(up), log: log}
	g.mux = runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithErrorHandler(g.grpcError),
		runtime.WithRoutingErrorHandler(g.routingError),
		// A POST is a POST: no X-HTTP-Method-Override, and no form body
		// read as the query of a GET route.
		runtime.WithDisableHTTPMethodOverride(),
		runtime.WithDisablePathLengthFallback(),
		// Who the client is, in the gateway's word and with its proof.
		runtime.WithMetadata(func(_ context.Context, r *http.Request) metadata.MD {
			return cfg.Proof.Metadata(clientIP(r))
		}),
		runtime.WithForwardResponseOption(imageHeaders),
		// A body the front handler parsed is not parsed again (heldJSON).
		runtime.WithMarshalerOption(runtime.MIMEWildcard, heldJSON{&runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				// Every field is in every answer, zero and empty ones
				// included ("creditsRemaining": 0, "entries": []): a
				// client reading a field must never find it undefined.
				MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
				// A misspelt option must be an error, not silently ignored.
				UnmarshalOptions: unmarshalJSON,
			},
		}}),
	)
	if err := enhancev1.RegisterImageServiceHandlerClient(ctx, g.mux, g.images); err != nil {
		return nil, err
	}
	if err := enhancev1.RegisterAccountServiceHandlerClient(ctx, g.mux, enhancev1.NewAccountServiceClient(up)); err != nil {
		return nil, err
	}
	if err := enhancev1.RegisterKeyServiceHandlerClient(ctx, g.mux, enhancev1.NewKeyServiceClient(up)); err != nil {
		return nil, err
	}
	if err := enhancev1.RegisterUsageServiceHandlerClient(ctx, g.mux, enhancev1.NewUsageServiceClient(up)); err != nil {
		return nil, err
	}
	return g, nil
}

// incomingHeader forwards only the headers the gRPC side reads. Everything
// else, Grpc-Metadata-* included, stays out of the metadata, so REST
// callers cannot set internal metadata.
func incomingHeader(key string) (string, bool) {
	if k, ok := forwardedHeaders[http.CanonicalHeaderKey(key)]; ok {
		return k, true
	}
	return "", false
}

// forwardedHeaders are the request headers the gRPC side reads, by their
// canonical HTTP name, with their metadata key.
var forwardedHeaders = map[string]string{
	"X-Api-Key":       "x-api-key",
	"Authorization":   "authorization",
	"Idempotency-Key": "idempotency-key",
	http.CanonicalHeaderKey(requestid.Header): requestid.Header,
}

// outgoingHeader passes the service's own x-* response metadata, and the
// RateLimit and RateLimit-Policy fields, through as headers of the same
// name; the request id is already set by ServeHTTP.
func outgoingHeader(key string) (string, bool) {
	k := strings.ToLower(key)
	if strings.HasPrefix(k, "x-") && k != requestid.Header || k == "ratelimit" || k == "ratelimit-policy" {
		return key, true
	}
	return "", false
}
