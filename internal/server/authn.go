package server

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/requestid"
)

// APIKeyHeader is the metadata key (and HTTP header) carrying the key.
const APIKeyHeader = "x-api-key"

// UnauthenticatedMessage is the one message every authentication failure
// gets, whatever was wrong, so that a caller learns nothing about keys.
const UnauthenticatedMessage = "invalid or missing API key: send a valid key in the x-api-key header"

type authenticator struct {
	verifier *auth.Verifier
	scopes   map[string]string
	log      *slog.Logger
}

func (a *authenticator) authenticate(ctx context.Context) (context.Context, error) {
	raw := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(APIKeyHeader); len(v) > 0 {
			raw = v[0]
		}
	}
	p, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			id := requestid.From(ctx)
			a.log.ErrorContext(ctx, "key verification failed", "request_id", id, "err", err)
			return nil, apiv1.WithReason(codes.Internal, "internal error (request id "+id+")", "INTERNAL")
		}
		// Never log raw: it may be a real key with one typo.
		a.log.WarnContext(ctx, "authentication failed",
			"request_id", requestid.From(ctx),
			"client", clientAddress(ctx),
			"key_id", auth.KeyIDHint(raw),
			"reason", err.Error())
		return nil, apiv1.WithReason(codes.Unauthenticated, UnauthenticatedMessage, "UNAUTHENTICATED")
	}
	method, _ := grpc.Method(ctx)
	if need := a.scopes[method]; need != "" && !p.Has(need) {
		return nil, apiv1.WithReason(codes.PermissionDenied, "this API key lacks the scope "+need, "MISSING_SCOPE")
	}
	return auth.WithPrincipal(ctx, p), nil
}

// clientAddress is the caller's address: the one the gateway reports for
// REST calls, the TCP peer for direct gRPC calls.
func clientAddress(ctx context.Context) string {
	pr, _ := peer.FromContext(ctx)
	addr := ""
	if pr != nil && pr.Addr != nil {
		addr = pr.Addr.String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-forwarded-for"); len(v) > 0 {
			return v[0] + " (via " + addr + ")"
		}
	}
	return addr
}
